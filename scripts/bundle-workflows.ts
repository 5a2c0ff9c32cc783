/**
 * Pre-bundles the workflow code for production workers (`npm run build` runs it after tsc): a worker
 * that loads dist/workflow-bundle.js starts in a second instead of running webpack at start-up.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { projectRoot } from '../src/project-root';

export const WORKFLOW_BUNDLE_FILE = join('dist', 'workflow-bundle.js');

async function main(): Promise<void> {
  const started = Date.now();
  const root = projectRoot();
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows') });
  const out = join(root, WORKFLOW_BUNDLE_FILE);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, code);
  process.stderr.write(
    `Wrote ${out} (${Math.round(code.length / 1024)} KiB) in ${Date.now() - started} ms\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bundle-workflows failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
