import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findImportCycles } from '../../scripts/import-cycles';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'import-cycles-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

void describe('findImportCycles', () => {
  void it('finds a cycle of type-only imports across folders', () => {
    const root = tree({
      'workflows/types.ts':
        "import type { Ledger } from './ledger';\nexport interface Failure { ledger?: Ledger }\n",
      'workflows/ledger.ts':
        "import type { Failure } from './types';\nexport interface Ledger { f: Failure[] }\n",
      'domain/ok.ts': 'export const ok = 1;\n',
      'azure/uses.ts': "import { ok } from '../domain/ok';\nexport const uses = ok;\n",
    });
    try {
      assert.deepEqual(findImportCycles(root), [['workflows/ledger.ts', 'workflows/types.ts']]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  void it('finds a longer cycle through an index and a re-export', () => {
    const root = tree({
      'activities/index.ts': "export { make } from './deps';\nexport interface Deps { a: number }\n",
      'activities/deps.ts': "import type { Deps } from './helper';\nexport const make = (d: Deps) => d;\n",
      'activities/helper.ts': "export type { Deps } from './index';\n",
    });
    try {
      assert.deepEqual(findImportCycles(root), [
        ['activities/deps.ts', 'activities/helper.ts', 'activities/index.ts'],
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  void it('src/ has none', () => {
    assert.deepEqual(findImportCycles(join(__dirname, '..', '..', 'src')), []);
  });
});
