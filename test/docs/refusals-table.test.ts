/**
 * The README's table of Azure's refusals ("What Azure's refusals mean") checked against the rule table that
 * decides (RESPONSE_RULES): every row's statuses and codes classify to the row's failure code, every rule is
 * reached by a row, every code a rule names is listed, and a rule that tells the user what to do has a row that
 * does too. Broken copies of the table must be refused by the same checks.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { classifyAzureError } from '../../src/azure/errors';
import { matchResponseRule, RESPONSE_RULES } from '../../src/azure/response-rules';
import { FAILURE_CODES, isFailureCode } from '../../src/domain/failure-codes';
import { codesIn, tableUnder } from '../support/markdown-table';

const README = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
const HEADING = "What Azure's refusals mean";
/** A code no rule names, standing for "any other". */
const UNNAMED_CODE = 'SomeCodeNoRuleNames';

function statusesOf(cell: string, named: Set<number>): number[] | 'none' | undefined {
  if (cell === 'none') return 'none';
  if (cell === '4xx') return Array.from({ length: 100 }, (_, i) => 400 + i);
  if (cell.startsWith('any other')) {
    return Array.from({ length: 200 }, (_, i) => 400 + i).filter((status) => !named.has(status));
  }
  const numbers = cell.split(',').map((part) => Number(part.trim()));
  return numbers.every((n) => Number.isInteger(n) && n >= 100 && n <= 599) ? numbers : undefined;
}

/** Everything the table gets wrong about RESPONSE_RULES, one line each; empty when it is true. */
function refusalTableProblems(markdown: string): string[] {
  const problems: string[] = [];
  const rows = tableUnder(markdown, HEADING);
  const named = new Set(
    rows.flatMap((row) =>
      /^[\d, ]+$/.test(row.status ?? '') ? (row.status ?? '').split(',').map(Number) : [],
    ),
  );
  const reached = new Set<string>();
  const reachedWithAdvice = new Set<string>();
  const listedCodes = new Map<string, Set<string>>();

  rows.forEach((row, index) => {
    const where = `row ${index + 1} (${row.status} ${row['Azure code']})`;
    const failure = row['failure code'] ?? '';
    if (!isFailureCode(failure)) {
      problems.push(`${where}: '${failure}' is not a failure code`);
      return;
    }
    if ((row.retried ?? '').startsWith('yes') !== FAILURE_CODES[failure].retried) {
      problems.push(
        `${where}: retried '${row.retried}', but ${failure} is ${FAILURE_CODES[failure].retried ? '' : 'not '}retried`,
      );
    }
    const statuses = statusesOf(row.status ?? '', named);
    if (statuses === undefined) {
      problems.push(`${where}: status '${row.status}' is not 4xx, none, any other or a list of statuses`);
      return;
    }
    if (statuses === 'none') return; // an exception, not an HTTP answer: classified outside the rule table
    const codeCell = row['Azure code'] ?? '';
    const codes = codeCell.startsWith('any other') ? [undefined, UNNAMED_CODE] : codesIn(codeCell);
    if (codes.length === 0) problems.push(`${where}: no Azure code and not 'any other'`);
    const advises = row['what to do'] !== undefined && !row['what to do'].startsWith('—');
    for (const statusCode of statuses) {
      for (const azureCode of codes) {
        const rule = matchResponseRule({ statusCode, azureCode });
        reached.add(rule.name);
        if (advises) reachedWithAdvice.add(rule.name);
        if (azureCode !== undefined && azureCode !== UNNAMED_CODE) {
          const listed = listedCodes.get(rule.name) ?? new Set<string>();
          listed.add(azureCode.toLowerCase());
          listedCodes.set(rule.name, listed);
        }
        const body = azureCode === undefined ? undefined : { error: { code: azureCode, message: 'm' } };
        const got = classifyAzureError(
          { statusCode, headers: {}, body },
          { operation: 'o', nowInMs: 0 },
        ).code;
        if (got !== failure) {
          problems.push(
            `${where}: ${statusCode} ${azureCode ?? '(no code)'} is ${got} by rule '${rule.name}', the table says ${failure}`,
          );
        }
      }
    }
  });

  for (const rule of RESPONSE_RULES) {
    if (!reached.has(rule.name)) problems.push(`rule '${rule.name}' (${rule.failure}) has no row`);
    else if (rule.hint !== '' && !reachedWithAdvice.has(rule.name)) {
      problems.push(`rule '${rule.name}' tells the user what to do, its row does not`);
    }
    for (const code of rule.azureCodes ?? []) {
      if (!listedCodes.get(rule.name)?.has(code.toLowerCase())) {
        problems.push(`rule '${rule.name}': code ${code} is not in the table`);
      }
    }
  }
  return problems;
}

void describe("README: what Azure's refusals mean", () => {
  void it('the table says what RESPONSE_RULES decides, for every rule', () => {
    assert.deepEqual(refusalTableProblems(README), []);
  });

  void it('a table that has drifted from the rules is refused', () => {
    const lines = README.split('\n');
    const edit = (find: string, change: (line: string) => string | undefined): string =>
      lines
        .flatMap((line) => {
          if (!line.startsWith('|') || !line.includes(find)) return [line];
          const changed = change(line);
          return changed === undefined ? [] : [changed];
        })
        .join('\n');

    // A wrong failure code.
    const wrongCode = refusalTableProblems(
      edit('`ScopeLocked`', (l) => l.replace('Misconfigured', 'Transient     ')),
    );
    assert.ok(
      wrongCode.some((p) => /ScopeLocked is Misconfigured .* the table says Transient/.test(p)),
      wrongCode.join('\n'),
    );
    // A rule without a row.
    const lostRow = refusalTableProblems(edit('`IotHubSuspended`', () => undefined));
    assert.ok(
      lostRow.includes("rule 'permanent IotHubSuspended' (Misconfigured) has no row"),
      lostRow.join('\n'),
    );
    // A code of a rule left out of its row.
    const lostCode = refusalTableProblems(
      edit('`IotHubNotFound`', (l) => l.replace(', `IotHubNotFound`', '')),
    );
    assert.ok(
      lostCode.includes("rule 'hub not found': code IotHubNotFound is not in the table"),
      lostCode.join('\n'),
    );
    // A rule with advice whose row gives none.
    const noAdvice = refusalTableProblems(edit('| 405', (l) => l.replace('try `POLICY_TARGET=twin`', '—')));
    assert.ok(
      noAdvice.includes("rule 'method not allowed' tells the user what to do, its row does not"),
      noAdvice.join('\n'),
    );
    // A retried column that contradicts the failure code.
    const retried = refusalTableProblems(edit('| 405', (l) => l.replace('| no ', '| yes')));
    assert.ok(
      retried.some((p) => /retried 'yes'/.test(p)),
      retried.join('\n'),
    );
  });
});
