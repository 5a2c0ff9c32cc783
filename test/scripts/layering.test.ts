/**
 * The lint rules that keep imports pointing down (eslint.config.mjs): a planted upward import fails lint.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';

const root = join(__dirname, '..', '..');

async function restrictedImports(file: string, planted: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const text = `${planted}\n${readFileSync(join(root, file), 'utf8')}`;
  const [result] = await eslint.lintText(text, { filePath: join(root, file) });
  return (result?.messages ?? [])
    .filter((message) => message.ruleId === 'no-restricted-imports')
    .map((message) => message.message);
}

void describe('layering lint rules', { timeout: 120_000 }, () => {
  for (const file of ['src/azure/errors.ts', 'src/inventory/inventory.ts', 'src/activities/failures.ts']) {
    void it(`${file} may not import src/workflows`, async () => {
      const problems = await restrictedImports(
        file,
        "import { SYNC_DEFAULTS as _planted } from '../workflows/options';",
      );
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, /Imports point down/);
    });
  }

  void it('src/domain may not import another layer, nor I/O', async () => {
    const problems = await restrictedImports(
      'src/domain/failure-codes.ts',
      "import { redact as _a } from '../logger';\nimport { readFileSync as _b } from 'node:fs';",
    );
    assert.equal(problems.length, 2, problems.join('\n'));
  });

  void it('the files as they are pass', async () => {
    for (const file of ['src/azure/errors.ts', 'src/domain/failure-codes.ts'])
      assert.deepEqual(await restrictedImports(file, ''), []);
  });
});
