/**
 * Renders the markdown and SVG again from a result JSON (after a change to the report's layout, or for a JSON
 * kept from another run): `node --import tsx bench/render.ts [bench/results/latest.json]`; a storms.json
 * renders storms.md and storms.svg.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { BenchReport } from './metrics';
import { checkTargets, renderMarkdown, renderSvg } from './report';
import { judgeStorms, renderStormMarkdown, renderStormSvg, type StormReport } from './storm-report';

const file = process.argv[2] ?? join(__dirname, 'results', 'latest.json');
if (basename(file).startsWith('storms')) {
  const report = JSON.parse(readFileSync(file, 'utf8')) as StormReport;
  judgeStorms(report);
  writeFileSync(join(dirname(file), 'storms.md'), renderStormMarkdown(report));
  writeFileSync(join(dirname(file), 'storms.svg'), renderStormSvg(report));
  process.stderr.write(`rendered ${join(dirname(file), 'storms.md')} and storms.svg\n`);
} else {
  const report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
  report.targets = checkTargets(report.cells);
  writeFileSync(join(dirname(file), 'latest.md'), renderMarkdown(report));
  writeFileSync(join(dirname(file), 'latest.svg'), renderSvg(report));
  process.stderr.write(`rendered ${join(dirname(file), 'latest.md')} and latest.svg\n`);
}
