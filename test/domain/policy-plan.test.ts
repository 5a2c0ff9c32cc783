import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { policyFingerprint } from '../../src/azure/policy-fingerprint';
import { canonicalJson, hasPendingChanges, planDevice, planFleet } from '../../src/domain/policy-plan';

const baseline = { version: 3, rules: [{ id: 'tls', value: '1.2' }] };

void describe('canonicalJson and fingerprints', () => {
  void it('sorts keys at every depth, keeps array order, leaves undefined members out', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [2, 1], c: null } }), '{"a":{"c":null,"d":[2,1]},"b":1}');
    assert.equal(canonicalJson({ a: undefined, b: [undefined] }), '{"b":[null]}');
    assert.equal(canonicalJson({ x: 1, y: 2 }), canonicalJson({ y: 2, x: 1 }));
    assert.notEqual(canonicalJson([1, 2]), canonicalJson([2, 1]));
    assert.equal(canonicalJson('a"b'), '"a\\"b"');
  });

  void it('fingerprints equal documents alike, whatever their key order, and others apart', () => {
    const a = policyFingerprint({ rules: [{ value: '1.2', id: 'tls' }], version: 3 });
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.equal(a, policyFingerprint(baseline));
    assert.notEqual(a, policyFingerprint({ ...baseline, version: 4 }));
  });
});

void describe('planDevice', () => {
  void it('create without a policy, unchanged when equal in any key order, update otherwise', () => {
    assert.equal(planDevice(baseline, null), 'create');
    assert.equal(planDevice(baseline, undefined), 'create');
    assert.equal(planDevice(baseline, { rules: [{ value: '1.2', id: 'tls' }], version: 3 }), 'unchanged');
    assert.equal(planDevice(baseline, { ...baseline, extra: true }), 'update');
    assert.equal(planDevice(baseline, { version: 3, rules: [] }), 'update');
    assert.equal(planDevice({}, {}), 'unchanged');
  });
});

void describe('planFleet', () => {
  const assignments = [
    { deviceId: 'd1', policy: 'baseline', document: baseline },
    { deviceId: 'd2', policy: 'baseline', document: baseline },
    { deviceId: 'd3', policy: 'baseline', document: baseline },
    { deviceId: 'd4', policy: 'baseline', document: baseline },
  ];

  void it('twin (every device listed): unchanged, update, create, not in hub, and orphans with a policy', () => {
    const plan = planFleet(
      assignments,
      [
        { deviceId: 'd1', document: { ...baseline } },
        { deviceId: 'd2', document: { version: 1 } },
        { deviceId: 'd3', document: null },
        { deviceId: 'x1', document: { version: 9 } },
        { deviceId: 'x2', document: null },
      ],
      { listsEveryDevice: true },
    );
    assert.deepEqual(
      plan.entries.map((e) => [e.deviceId, e.action]),
      [
        ['d1', 'unchanged'],
        ['d2', 'update'],
        ['d3', 'create'],
        ['d4', 'notInHub'],
        ['x1', 'orphan'],
      ],
    );
    assert.deepEqual(plan.counts, { create: 1, update: 1, unchanged: 1, notInHub: 1, orphan: 1 });
    assert.equal(plan.entries[4]?.policy, undefined);
    assert.match(plan.entries[4]?.reason ?? '', /never deleted/);
    assert.ok(hasPendingChanges(plan.counts));
  });

  void it('arm (only devices with a policy listed): an unlisted device is create; 404s name devices not in hub', () => {
    const plan = planFleet(assignments, [{ deviceId: 'd1', document: baseline }], {
      listsEveryDevice: false,
      notInHub: ['d4'],
    });
    assert.deepEqual(
      plan.entries.map((e) => e.action),
      ['unchanged', 'create', 'create', 'notInHub'],
    );
    assert.deepEqual(plan.counts, { create: 2, update: 0, unchanged: 1, notInHub: 1, orphan: 0 });
  });

  void it('a selection reports no orphans; a steady fleet has no pending changes', () => {
    const plan = planFleet(
      assignments.slice(0, 1),
      [
        { deviceId: 'd1', document: baseline },
        { deviceId: 'd2', document: { other: true } },
      ],
      { listsEveryDevice: true, reportOrphans: false },
    );
    assert.deepEqual(plan.counts, { create: 0, update: 0, unchanged: 1, notInHub: 0, orphan: 0 });
    assert.equal(hasPendingChanges(plan.counts), false);
  });
});
