/**
 * deploy/grafana/iot-policy-sync.json checked without Grafana: it parses, its panels are well formed, and its
 * queries name only metrics the worker exports (activities/product-metrics.ts), every one of them charted. A
 * copy with a misspelt metric, a lost panel or an undefined variable must be refused by the same checks.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PRODUCT_METRIC_PREFIX, productMetricNames } from '../src/activities/product-metrics';

const DASHBOARD = join(__dirname, '..', 'deploy', 'grafana', 'iot-policy-sync.json');

interface Panel {
  id?: unknown;
  title?: unknown;
  type?: unknown;
  gridPos?: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: { refId?: string; expr?: unknown }[];
}

interface Dashboard {
  uid?: unknown;
  title?: unknown;
  schemaVersion?: unknown;
  panels?: Panel[];
  templating?: { list?: { name?: string; query?: unknown }[] };
}

/** The Prometheus expressions of panels and template variables, each with where it is. */
function expressions(dashboard: Dashboard): { where: string; expr: string }[] {
  const found: { where: string; expr: string }[] = [];
  for (const panel of dashboard.panels ?? [])
    for (const target of panel.targets ?? [])
      if (typeof target.expr === 'string')
        found.push({ where: `panel '${String(panel.title)}' ${target.refId}`, expr: target.expr });
  for (const variable of dashboard.templating?.list ?? []) {
    const query = variable.query;
    const text = typeof query === 'string' ? query : (query as { query?: unknown } | undefined)?.query;
    if (typeof text === 'string' && variable.name !== 'datasource')
      found.push({ where: `variable $${variable.name}`, expr: text });
  }
  return found;
}

/** Everything wrong with the dashboard, one line each; empty when it is fine. */
function dashboardProblems(dashboard: Dashboard): string[] {
  const problems: string[] = [];
  if (typeof dashboard.uid !== 'string' || dashboard.uid === '') problems.push('uid is missing');
  if (typeof dashboard.title !== 'string' || dashboard.title === '') problems.push('title is missing');
  if (typeof dashboard.schemaVersion !== 'number') problems.push('schemaVersion is missing');
  const panels = dashboard.panels ?? [];
  if (panels.length === 0) problems.push('no panels');

  const ids = new Set<unknown>();
  for (const panel of panels) {
    const name = `panel '${String(panel.title)}'`;
    if (typeof panel.id !== 'number' || ids.has(panel.id)) problems.push(`${name}: id missing or not unique`);
    ids.add(panel.id);
    if (typeof panel.type !== 'string') problems.push(`${name}: type is missing`);
    const grid = panel.gridPos;
    if (!grid || ![grid.x, grid.y, grid.w, grid.h].every(Number.isInteger) || grid.x + grid.w > 24)
      problems.push(`${name}: gridPos must be whole numbers within 24 columns`);
    if (panel.datasource?.uid !== '${datasource}') problems.push(`${name}: datasource is not $datasource`);
    const targets = panel.targets ?? [];
    if (targets.length === 0 || targets.some((t) => typeof t.expr !== 'string' || t.expr.trim() === ''))
      problems.push(`${name}: every panel needs targets with an expr`);
  }

  const variables = new Set((dashboard.templating?.list ?? []).map((v) => v.name));
  const builtIn = new Set(['__rate_interval', '__range', '__interval', '__all']);
  const exprs = expressions(dashboard);
  const known = new Set<string>(productMetricNames);
  const charted = new Set<string>();
  for (const { where, expr } of exprs) {
    for (const [, variable] of expr.matchAll(/\$\{?(\w+)\}?/g))
      if (!variables.has(variable!) && !builtIn.has(variable!))
        problems.push(`${where}: $${variable} is not a variable of the dashboard`);
    for (const [metric] of expr.matchAll(new RegExp(`\\b${PRODUCT_METRIC_PREFIX}\\w*`, 'g'))) {
      if (known.has(metric)) charted.add(metric);
      else problems.push(`${where}: ${metric} is not a product metric (activities/product-metrics.ts)`);
    }
  }
  for (const metric of known) if (!charted.has(metric)) problems.push(`${metric} is in no panel`);
  return problems;
}

const text = readFileSync(DASHBOARD, 'utf8');
const copy = (): Dashboard => JSON.parse(text) as Dashboard;

void describe('the Grafana dashboard', () => {
  void it('parses, and charts every product metric and nothing else of ours', () => {
    const dashboard = copy();
    assert.deepEqual(dashboardProblems(dashboard), []);
    const charted = new Set(
      expressions(dashboard)
        .flatMap(({ expr }) => [...expr.matchAll(new RegExp(`\\b${PRODUCT_METRIC_PREFIX}\\w*`, 'g'))])
        .map(([m]) => m),
    );
    assert.deepEqual([...charted].sort(), [...productMetricNames].sort());
  });

  void it('refuses a misspelt metric, an uncharted one, and an undefined variable', () => {
    const misspelt = copy();
    misspelt.panels![0]!.targets![0]!.expr = 'sum(rate(iot_policy_sync_write_total[5m]))';
    const problems = dashboardProblems(misspelt);
    assert.ok(
      problems.some((p) => /iot_policy_sync_write_total is not a product metric/.test(p)),
      problems.join('\n'),
    );

    const lost = copy();
    lost.panels = lost.panels!.filter(
      (panel) => !(panel.targets ?? []).some((t) => String(t.expr).includes('compliance_devices')),
    );
    assert.ok(dashboardProblems(lost).includes('iot_policy_sync_compliance_devices is in no panel'));

    const unknownVariable = copy();
    unknownVariable.panels![1]!.targets![0]!.expr = 'sum(iot_policy_sync_writes_total{hub=~"$region"})';
    assert.ok(dashboardProblems(unknownVariable).some((p) => /\$region is not a variable/.test(p)));
  });
});
