/**
 * docs/interface.md, the external contract, checked against the code's own tables: the environment against the
 * configuration schema, the commands and their flags against the registered commands, the exit codes against
 * ExitCode, the queries and signals against messages.ts, the phases, alert kinds and failure codes against
 * their lists. Each check compares both ways, so a name the document lacks and a name the code lacks both fail;
 * copies of the document with a drifted row must be refused by the same checks.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CONNECTION_FLAGS } from '../../src/cli/args';
import { ExitCode } from '../../src/cli/errors';
import { registeredCommands } from '../../src/cli/main';
import { CHANGES_PENDING_EXIT_CODE } from '../../src/cli/plan';
import { configSchema } from '../../src/config';
import { ALERT_KINDS } from '../../src/domain/alerts';
import { FAILURE_CODES } from '../../src/domain/failure-codes';
import { emulatorUsage } from '../../src/emulator/cli';
import * as messages from '../../src/workflows/messages';
import { SYNC_PHASES } from '../../src/workflows/types';
import { codesIn, tableUnder, type TableRow } from '../support/markdown-table';

const ROOT = join(__dirname, '..', '..');
const DOC = readFileSync(join(ROOT, 'docs', 'interface.md'), 'utf8');

/** What is in one list and not the other, as problem lines; empty when they are equal sets. */
function compare(what: string, documented: Iterable<string>, inCode: Iterable<string>): string[] {
  const doc = new Set(documented);
  const code = new Set(inCode);
  return [
    ...[...code]
      .filter((name) => !doc.has(name))
      .map((name) => `${what}: ${name} is in the code, not in the document`),
    ...[...doc]
      .filter((name) => !code.has(name))
      .map((name) => `${what}: ${name} is in the document, not in the code`),
  ];
}

const firstCode = (row: TableRow, column: string): string =>
  codesIn(row[column] ?? '')[0] ?? row[column] ?? '';

/** The flags a `flags` cell names: `--x` words, and "connection flags" as the four of them. */
function flagsOf(cell: string): string[] {
  const flags = [...cell.matchAll(/`--([a-z][a-z-]*)/g)].map((m) => m[1] ?? '');
  if (cell.includes('connection flags')) flags.push(...Object.keys(CONNECTION_FLAGS));
  return flags;
}

function codeFlags(spec: { name: string; flags: Record<string, unknown> }): string[] {
  // The emulator parses its own options; its usage text is their table.
  if (spec.name === 'emulator')
    return [...emulatorUsage.matchAll(/^ {2}--([a-z][a-z-]*)/gm)].map((m) => m[1] ?? '');
  return Object.keys(spec.flags).filter((flag) => flag !== 'help');
}

/** Everything docs/interface.md gets wrong about the code, one line each; empty when it is true. */
function interfaceProblems(doc: string): string[] {
  const problems: string[] = [];

  const variables = tableUnder(doc, 'Configuration').map((row) => row.variable ?? '');
  problems.push(...compare('variable', variables, Object.keys(configSchema.shape)));

  const commandRows = tableUnder(doc, 'Command line');
  const commands = registeredCommands();
  problems.push(
    ...compare(
      'command',
      commandRows.map((row) => firstCode(row, 'command')),
      commands.map((command) => command.spec.name),
    ),
  );
  for (const command of commands) {
    const row = commandRows.find((r) => firstCode(r, 'command') === command.spec.name);
    if (row)
      problems.push(
        ...compare(`${command.spec.name} flag`, flagsOf(row.flags ?? ''), codeFlags(command.spec)),
      );
  }

  const exitCodes = tableUnder(doc, 'Exit codes').map((row) => row.code ?? '');
  problems.push(
    ...compare('exit code', exitCodes, [...Object.values(ExitCode), CHANGES_PENDING_EXIT_CODE].map(String)),
  );

  const handlers = tableUnder(doc, 'Queries and signals of policySyncWorkflow');
  const defined = Object.values(messages) as { type?: string; name?: string }[];
  for (const kind of ['query', 'signal'] as const) {
    problems.push(
      ...compare(
        kind,
        handlers.filter((row) => row.kind === kind).map((row) => firstCode(row, 'name')),
        defined.filter((d) => d.type === kind).map((d) => d.name ?? ''),
      ),
    );
  }

  problems.push(
    ...compare(
      'phase',
      tableUnder(doc, 'Phases').map((row) => firstCode(row, 'phase')),
      SYNC_PHASES,
    ),
  );
  problems.push(
    ...compare(
      'alert kind',
      tableUnder(doc, 'Alerts').map((row) => firstCode(row, 'kind')),
      ALERT_KINDS,
    ),
  );

  const failureRows = tableUnder(doc, 'Failure codes');
  problems.push(
    ...compare(
      'failure code',
      failureRows.map((row) => row.code ?? ''),
      Object.keys(FAILURE_CODES),
    ),
  );
  for (const row of failureRows) {
    const info = FAILURE_CODES[row.code as keyof typeof FAILURE_CODES] as
      (typeof FAILURE_CODES)[keyof typeof FAILURE_CODES] | undefined;
    if (!info) continue;
    if (row.retried !== (info.retried ? 'yes' : 'no'))
      problems.push(`failure code ${row.code}: retried '${row.retried}'`);
    if (row['raised by'] !== info.raisedBy)
      problems.push(`failure code ${row.code}: raised by '${row['raised by']}'`);
  }
  return problems;
}

void describe('docs/interface.md', () => {
  void it('says what the code does: variables, commands, flags, exit codes, queries, signals, phases, codes', () => {
    assert.deepEqual(interfaceProblems(DOC), []);
  });

  void it('a document that has drifted from the code is refused', () => {
    // Table columns are padded to their widest cell: match any run of spaces where `from` has one or more.
    const drift = (from: string, to: string): string[] => {
      const pattern = new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ +/g, ' +'));
      assert.ok(pattern.test(DOC), `the document has no '${from}' to change`);
      return interfaceProblems(DOC.replace(pattern, to));
    };
    assert.ok(
      drift('| WORKER_METRICS_HOST ', '| WORKER_METRICS_HOSTS').includes(
        'variable: WORKER_METRICS_HOST is in the code, not in the document',
      ),
    );
    assert.ok(drift('| `plan` ', '| `plans`').includes('command: plan is in the code, not in the document'));
    assert.ok(
      drift('`--detailed-exitcode`, ', '').includes(
        'plan flag: detailed-exitcode is in the code, not in the document',
      ),
    );
    assert.ok(
      drift('`--no-grant`', '`--no-grants`').includes(
        'emulator flag: no-grants is in the document, not in the code',
      ),
    );
    assert.ok(drift('| 4    |', '| 5    |').includes('exit code: 4 is in the code, not in the document'));
    assert.ok(
      drift('| `acknowledgeAlert` |', '| `ackAlert`         |').includes(
        'signal: ackAlert is in the document, not in the code',
      ),
    );
    assert.ok(
      drift('| query  | `failures` ', '| signal | `failures` ').includes(
        'query: failures is in the code, not in the document',
      ),
    );
    assert.ok(
      drift('| `paused`    |', '| `halted`    |').includes(
        'phase: paused is in the code, not in the document',
      ),
    );
    assert.ok(
      drift('| `AbortThreshold` ', '| `Abort`          ').includes(
        'alert kind: AbortThreshold is in the code, not in the document',
      ),
    );
    assert.ok(
      drift('| InventoryChanged ', '| InventoryMoved   ').includes(
        'failure code: InventoryChanged is in the code, not in the document',
      ),
    );
  });
});

/** A reference to a file outside the repository, or to an issue number. */
const OUTSIDE_OR_ISSUE = [
  /\.\.\/shared\/|\/work\/|(?<!docs\/)\binterface\.md/,
  /\b[Ii]ssues? #?\d+|(^|[\s(])#\d{1,4}\b(?![\da-f])/,
];

void describe('references', () => {
  void it('name no file outside the repository and no issue number', () => {
    const found: string[] = [];
    const scan = (path: string): void => {
      // This file holds the patterns themselves.
      if (path === join('test', 'docs', 'interface.test.ts')) return;
      readFileSync(join(ROOT, path), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (OUTSIDE_OR_ISSUE.some((pattern) => pattern.test(line)))
            found.push(`${path}:${i + 1}: ${line.trim()}`);
        });
    };
    const walk = (dir: string): void => {
      for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (!['node_modules', 'fixtures', 'results'].includes(entry.name)) walk(path);
        } else if (/\.(ts|md|mjs|js)$/.test(entry.name)) scan(path);
      }
    };
    for (const dir of ['src', 'test', 'bench', 'scripts', 'docs']) walk(dir);
    scan('README.md');
    assert.deepEqual(found, []);
  });

  void it('the patterns find what they look for', () => {
    for (const line of [
      ' * Bad input (issue 7, reliability)',
      '// Issue 3, first "Done when"',
      ' * (see #12)',
      ' * Expected, per interface.md and the README',
      '/** Exit codes (../shared/interface.md). */',
    ])
      assert.ok(
        OUTSIDE_OR_ISSUE.some((pattern) => pattern.test(line)),
        line,
      );
    for (const line of [
      ' * Expected, per docs/interface.md',
      'fill="#555"',
      'the token issued by',
      'error.issues[0]',
    ])
      assert.ok(!OUTSIDE_OR_ISSUE.some((pattern) => pattern.test(line)), line);
  });
});
