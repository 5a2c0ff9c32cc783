import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AuthorizationGate,
  decideAdmission,
  GateHeldError,
  gateAnswerOf,
  initialGateState,
  observeAnswer,
  type GateState,
} from '../../src/azure/authorization-gate';

const ctx = { operation: 'writing the security policy', deviceId: 'd1', target: 'arm' as const };

/** A gate state that is open, as after a run of allowed answers. */
function openState(nowInMs: number): GateState {
  let state = initialGateState({}, nowInMs);
  for (let i = 0; i < 8; i++) state = observeAnswer(state, 'allowed', nowInMs);
  assert.equal(state.mode, 'open');
  return state;
}

void describe('authorization gate decisions', () => {
  void it('starts probing: one request per 125 ms until answers come back', () => {
    let state = initialGateState({}, 0);
    let decision = decideAdmission(state, 0);
    assert.equal(decision.admit, true);
    state = decision.state;
    decision = decideAdmission(state, 10);
    assert.equal(decision.admit, false);
    assert.equal(decision.waitInMs, 115);
    decision = decideAdmission(decision.state, 125);
    assert.equal(decision.admit, true, 'topped up after the interval');
  });

  void it('an open gate judges the share of refusals over the latest 50 answers of the window', () => {
    let state = openState(0);
    // A burst of 200 allowed answers, then refusals: 40 of the latest 50 (80%) close it, however many
    // answers the window holds in all (40 of 240 would not).
    for (let i = 0; i < 200; i++) state = observeAnswer(state, 'allowed', 100);
    for (let i = 0; i < 39; i++) state = observeAnswer(state, 'refused', 200);
    assert.equal(state.mode, 'open', '39 of the latest 50');
    assert.ok(state.recent.length <= 50, `${state.recent.length} answers kept`);
    state = observeAnswer(state, 'refused', 200);
    assert.equal(state.mode, 'probing');
  });

  void it('an allowed answer lets three more go; eight allowed in a row open the gate', () => {
    let state = decideAdmission(initialGateState({}, 0), 0).state;
    state = observeAnswer(state, 'allowed', 5);
    assert.equal(state.credit, 3);
    for (let i = 0; i < 7; i++) state = observeAnswer(state, 'allowed', 6);
    assert.equal(state.mode, 'open');
    for (let i = 0; i < 1000; i++) assert.equal(decideAdmission(state, 7).admit, true);
  });

  void it('an open gate starts probing when 80% of at least 20 recent answers are refusals', () => {
    let state = openState(0);
    for (let i = 0; i < 15; i++) state = observeAnswer(state, 'refused', 100);
    for (let i = 0; i < 4; i++) state = observeAnswer(state, 'allowed', 100);
    assert.equal(state.mode, 'open', '19 answers are not enough to judge');
    state = observeAnswer(state, 'refused', 100);
    assert.equal(state.mode, 'probing', '16 of 20 refused');
  });

  void it('60% refused keeps the gate open (sending costs less than probing would save)', () => {
    let state = openState(0);
    for (let i = 0; i < 200; i++) state = observeAnswer(state, i % 5 < 3 ? 'refused' : 'allowed', 100 + i);
    assert.equal(state.mode, 'open', '60% refused');
  });

  void it('answers older than the sample window do not count', () => {
    let state = openState(0);
    for (let i = 0; i < 19; i++) state = observeAnswer(state, 'refused', 100);
    state = observeAnswer(state, 'refused', 5_000);
    assert.equal(state.mode, 'open', 'only one refusal within the last 2 s');
  });

  void it('while probing, credit grows only where more than a third of the probes are allowed', () => {
    const admitted = (allowedShare: number) => {
      let state = initialGateState({ openCredit: Infinity, openAfterAllowed: Infinity }, 0);
      let sent = 0;
      let time = 0;
      for (let step = 0; step < 400; step++) {
        time += 10;
        const decision = decideAdmission(state, time, { openCredit: Infinity, openAfterAllowed: Infinity });
        state = decision.state;
        if (!decision.admit) continue;
        sent += 1;
        const allowed = (sent * allowedShare) % 1 < allowedShare;
        state = observeAnswer(state, allowed ? 'allowed' : 'refused', time, {
          openCredit: Infinity,
          openAfterAllowed: Infinity,
        });
      }
      return sent;
    };
    // 4 s of 10 ms steps: 32 top-ups of one probe each.
    assert.ok(admitted(0) <= 33, `all refused: ${admitted(0)} requests in 4 s`);
    assert.ok(admitted(0.1) <= 50, `90% refused: ${admitted(0.1)} requests in 4 s`);
    assert.ok(admitted(0.5) >= 300, `50% refused: ${admitted(0.5)} requests in 4 s (the fan-out reopens)`);
  });

  void it('no answer, throttling or a server error gives the credit back', () => {
    let state = decideAdmission(initialGateState({}, 0), 0).state;
    assert.equal(state.credit, 0);
    state = observeAnswer(state, 'other', 1);
    assert.equal(state.credit, 1);
  });

  void it('probes again after a minute without requests', () => {
    const state = openState(0);
    assert.equal(decideAdmission(state, 30_000).admit, true);
    const later = decideAdmission({ ...state, lastRequestAtInMs: 0 }, 61_000);
    assert.equal(later.state.mode, 'probing');
    assert.equal(later.admit, true, 'the first probe goes at once');
    assert.equal(decideAdmission(later.state, 61_001).admit, false);
  });

  void it('reads an answer: RBAC refusals are refused; a policy deny, 401 challenge, 429 and 5xx tell nothing', () => {
    const armError = (statusCode: number, code: string) => ({
      statusCode,
      headers: {},
      body: { error: { code, message: 'x' } },
    });
    assert.equal(gateAnswerOf(armError(403, 'AuthorizationFailed'), ctx), 'refused');
    assert.equal(gateAnswerOf(armError(403, 'RequestDisallowedByPolicy'), ctx), 'other');
    assert.equal(gateAnswerOf(armError(401, 'InvalidAuthenticationToken'), ctx), 'other');
    assert.equal(gateAnswerOf(armError(429, 'TooManyRequests'), ctx), 'other');
    assert.equal(gateAnswerOf(armError(503, 'ServiceUnavailable'), ctx), 'other');
    assert.equal(gateAnswerOf(undefined, ctx), 'other');
    assert.equal(gateAnswerOf(armError(404, 'ResourceNotFound'), ctx), 'allowed');
    assert.equal(gateAnswerOf({ statusCode: 201, headers: {}, body: {} }, ctx), 'allowed');
  });
});

void describe('AuthorizationGate', () => {
  void it('holds requests while probing and lets them go in order as probes pass', async () => {
    const gate = new AuthorizationGate({ probeIntervalInMs: 1_000_000 });
    const order: number[] = [];
    const waiting = [1, 2, 3, 4, 5].map((n) => gate.admit().then(() => order.push(n)));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, [1], 'one probe');
    gate.settle('allowed');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, [1, 2, 3, 4], 'an allowed probe lets three more go');
    gate.settle('refused');
    gate.settle('refused');
    gate.settle('refused');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, [1, 2, 3, 4]);
    gate.settle('allowed');
    await Promise.all(waiting);
    assert.deepEqual(order, [1, 2, 3, 4, 5]);
  });

  void it('a request goes anyway after its longest wait, and an aborted one leaves the queue', async () => {
    const gate = new AuthorizationGate({ probeIntervalInMs: 1_000_000 });
    await gate.admit();
    const started = Date.now();
    await gate.admit(undefined, { maxWaitInMs: 50 });
    assert.ok(Date.now() - started >= 45, 'waited');
    assert.equal(gate.snapshot().waitedOut, 1);
    const abort = new AbortController();
    const aborted = gate.admit(abort.signal, { maxWaitInMs: 10_000 });
    abort.abort(new Error('cancelled'));
    await assert.rejects(aborted, /cancelled/);
    assert.equal(gate.snapshot().waiting, 0);
    await assert.rejects(gate.admit(undefined, { maxWaitInMs: 20, thenGiveUp: true }), GateHeldError);
  });
});
