import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBenchArgs } from '../../bench/args';
import { isDrifted } from '../../bench/reconcile';
import {
  checkReconcileTargets,
  nonWriteRequestsPerDevice,
  type ApproachResult,
  type ReconcileCell,
} from '../../bench/reconcile-report';

const result = (overrides: Partial<ApproachResult>): ApproachResult => ({
  approach: 'sync',
  wallMs: 10_000,
  requests: 150,
  writeRequests: 0,
  devicesWritten: 0,
  status429: 0,
  inSyncAfter: 10_000,
  reported: {},
  loadAverage: [1, 1],
  ...overrides,
});

const cell = (scenario: 'steady' | 'drift', approaches: ApproachResult[], fleet = 10_000): ReconcileCell => ({
  target: 'twin',
  scenario,
  fleet,
  drifted: scenario === 'drift' ? fleet / 100 : 0,
  approaches,
});

void describe('reconcile targets', () => {
  void it('judges steady 10,000 on wall time and requests per device, each bound alone', () => {
    const [fast, slow, chatty] = checkReconcileTargets([
      cell('steady', [
        result({ approach: 'fast' }),
        result({ approach: 'slow', wallMs: 30_001 }),
        result({ approach: 'chatty', requests: 201 }),
      ]),
    ]);
    assert.equal(fast?.met, true);
    assert.equal(slow?.met, false);
    assert.equal(chatty?.met, false, '201 requests for 10,000 devices is over 0.02 per device');
  });

  void it('judges 1% drift on writing exactly the drifted devices and on the requests besides the writes', () => {
    const checks = checkReconcileTargets([
      cell('drift', [
        result({ approach: 'exact', requests: 600, writeRequests: 100, devicesWritten: 100 }),
        result({ approach: 'one short', requests: 599, writeRequests: 99, devicesWritten: 99 }),
        result({ approach: 'reads all', requests: 10_300, writeRequests: 100, devicesWritten: 100 }),
        result({ approach: 'plan', requests: 20, reported: { counts: { update: 100, create: 0 } } }),
      ]),
    ]);
    assert.deepEqual(
      checks.map((c) => [c.approach, c.met]),
      [
        ['exact', true],
        ['one short', false],
        ['reads all', false],
        ['plan', true],
      ],
    );
  });

  void it('judges only 10,000-device cells, and an approach that failed never meets a target', () => {
    assert.deepEqual(checkReconcileTargets([cell('steady', [result({})], 1_000)]), []);
    const [failed] = checkReconcileTargets([cell('steady', [result({ error: 'boom', requests: 0 })])]);
    assert.equal(failed?.met, false);
  });

  void it('counts requests per device besides the writes', () => {
    assert.equal(nonWriteRequestsPerDevice(result({ requests: 600, writeRequests: 100 }), 10_000), 0.05);
  });

  void it('drifts every 100th device, only in the drift scenario', () => {
    const drifted = Array.from({ length: 10_000 }, (_, i) => i).filter((i) => isDrifted(i, 'drift'));
    assert.equal(drifted.length, 100);
    assert.equal(isDrifted(0, 'steady'), false);
  });

  void it('--reconcile selects the reconcile cells', () => {
    assert.equal(parseBenchArgs(['--reconcile', '--fleets', '1000,10000']).reconcile, true);
    assert.equal(parseBenchArgs([]).reconcile, false);
  });
});
