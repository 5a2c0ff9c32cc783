/**
 * The hostile profile (reliability): a fresh role assignment still propagating (2 s invisible, then
 * 30% refused for 8 s), ARM throttling (writes: 200 burst, 10/s), 5% 500s, 5% 503s with Retry-After, 2%
 * dropped connections, 2% CAE claims challenges, and latency. Every device ends in sync, or is reported
 * failed with a reason (code and message); the summary's counts agree with what the emulator saw.
 *
 * HOSTILE_DEVICES and HOSTILE_SEED change the run.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { describeLeaks, SecretScanner } from '../e2e/secrets';
import { useEmulatorSuite } from '../e2e/suite';
import {
  emulatorDesired,
  heldPolicy,
  nonDecreasing,
  observeRun,
  report,
  securityPolicy403s,
  startSync,
  uniqueHub,
} from '../e2e/support';

const DEVICES = Number(process.env.HOSTILE_DEVICES ?? 300);
const SEED = Number(process.env.HOSTILE_SEED ?? 11);

const suite = useEmulatorSuite('chaos');

void it(`hostile profile, ${DEVICES} devices: every device in sync or failed with its reason`, async () => {
  const { emulator, worker } = await suite.world('hostile', {
    devices: DEVICES,
    profile: 'hostile',
    seed: SEED,
    hubName: uniqueHub('hub-hostile'),
  });
  const handle = await startSync(suite.temporal.client, worker.config);
  const run = await observeRun(handle, 500);
  assert.equal(run.error, undefined, String(run.error));
  const summary = run.summary!;
  const state = emulator.state();
  const desired = emulatorDesired(emulator);

  // Every device is accounted for exactly once.
  assert.equal(summary.devicesTotal, DEVICES);
  assert.equal(summary.succeeded + summary.unchanged + summary.failed.length, DEVICES);
  const failedIds = new Set(summary.failed.map((f) => f.deviceId));
  assert.equal(failedIds.size, summary.failed.length, 'no device reported failed twice');
  assert.deepEqual(summary.rejected, []);

  // Each failure has its reason; every other device holds exactly its document.
  for (const failure of summary.failed) {
    assert.ok(desired.has(failure.deviceId), `${failure.deviceId} is in the inventory`);
    assert.match(failure.code, /^[A-Za-z]+$/, `${failure.deviceId} has a failure code`);
    assert.ok(failure.message.length > 10, `${failure.deviceId} has a message: ${failure.message}`);
  }
  const outOfSync = [...desired].filter(
    ([id, document]) => !failedIds.has(id) && !isDeepStrictEqual(heldPolicy(state, id, 'arm'), document),
  );
  assert.deepEqual(
    outOfSync.map(([id]) => id),
    [],
    'devices reported in sync hold their policy',
  );

  // The counts agree with the emulator.
  const devices = Object.values(state.devices);
  const written = devices.filter((d) => d.armWrites > 0).length;
  const inSync = [...desired].filter(([id, doc]) =>
    isDeepStrictEqual(heldPolicy(state, id, 'arm'), doc),
  ).length;
  assert.ok(summary.succeeded <= written, `succeeded ${summary.succeeded} ≤ devices written ${written}`);
  assert.ok(inSync >= summary.succeeded + summary.unchanged, `in sync ${inSync} ≥ succeeded + unchanged`);
  assert.ok(
    devices.every((d) => d.twinWrites === 0),
    'the arm target never touches twins',
  );
  const refused = securityPolicy403s(emulator);
  assert.equal(summary.authErrors, refused, 'authErrors = 403s answered on securityPolicies');
  const log = emulator.requestLog();
  const throttledAnswers = log.filter(
    (r) => (r.status === 429 || r.status === 503) && /\/securityPolicies\//i.test(r.path),
  ).length;
  assert.ok(summary.throttled > 0, 'the hostile profile throttles');
  // Throttled counts 429 and 503 answers across attempts (the pacer's own fail-fast has no status: not counted).
  assert.equal(summary.throttled, throttledAnswers, 'throttled = 429/503 answers on securityPolicies');
  assert.ok(nonDecreasing(run.samples, 'devicesDone'));
  assert.ok(summary.alerts.length <= 2, JSON.stringify(summary.alerts));

  // Nothing secret in the worker's logs (the SDK's warnings include every failed attempt's message).
  const scanner = new SecretScanner().addEmulator('hostile', {
    clientSecret: emulator.env.AZURE_CLIENT_SECRET!,
    tokens: emulator.issuedTokens(),
  });
  const leaks = scanner.scan('logs', [...worker.logs, ...suite.sdkLogs].join('\n'));
  assert.deepEqual(leaks, [], describeLeaks(leaks));

  const codes = summary.failed.reduce<Record<string, number>>(
    (m, f) => ({ ...m, [f.code]: (m[f.code] ?? 0) + 1 }),
    {},
  );
  report(
    'chaos hostile',
    `${DEVICES} devices in ${(run.wallMs / 1000).toFixed(1)} s: succeeded ${summary.succeeded}, ` +
      `unchanged ${summary.unchanged}, failed ${summary.failed.length} ${JSON.stringify(codes)}; ` +
      `authErrors ${summary.authErrors} (403s ${refused}), throttled ${summary.throttled} ` +
      `(429/503 answers ${throttledAnswers}); alerts ${summary.alerts.map((a) => a.kind).join(', ') || 'none'}; ` +
      `emulator faults ${JSON.stringify(state.faults)}, requests ${JSON.stringify(state.requests)}; ` +
      `writes/device max ${Math.max(...devices.map((d) => d.armWrites))}`,
  );
});
