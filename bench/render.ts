/**
 * Renders latest.md and latest.svg again from a latest.json (after a change to the report's layout, or for
 * a JSON kept from another run): `node --import tsx bench/render.ts [bench/results/latest.json]`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BenchReport } from './metrics';
import { checkTargets, renderMarkdown, renderSvg } from './report';

const file = process.argv[2] ?? join(__dirname, 'results', 'latest.json');
const report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
report.targets = checkTargets(report.cells);
writeFileSync(join(dirname(file), 'latest.md'), renderMarkdown(report));
writeFileSync(join(dirname(file), 'latest.svg'), renderSvg(report));
process.stderr.write(`rendered ${join(dirname(file), 'latest.md')} and latest.svg\n`);
