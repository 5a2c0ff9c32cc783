/**
 * `npm start -- --exit` on this machine: the demo starts its own dev server, emulator (300 devices,
 * seed profile) and worker, syncs through the schedule, and ends with every device in sync.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli, show } from './helpers';

describe('policy-sync demo --exit', () => {
  it('runs the whole product embedded to a summary with 300 devices in sync', async () => {
    const started = Date.now();
    const result = await runCli(['demo', '--exit'], {}, 400_000);
    assert.equal(result.code, 0, show(result));
    assert.match(result.stderr, /Temporal at 127\.0\.0\.1:\d+, UI at http:\/\/127\.0\.0\.1:\d+/);
    assert.match(result.stderr, /Schedule iot-policy-sync-hub-emulated: every 4h, overlap SKIP/);
    assert.match(
      result.stderr,
      /Triggered the schedule \(overlap SKIP\): sync iot-policy-sync-hub-emulated-/,
    );
    assert.match(result.stderr, /syncing: \d+\/300 done/, 'live progress');
    assert.match(result.stdout, /✔ 300 of 300 devices in sync — hub hub-emulated, target arm/);
    assert.match(result.stdout, /Emulator: 300 of 300 devices hold their policy/);
    assert.match(
      result.stdout,
      /Temporal UI: http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/iot-policy-sync-hub-emulated-/,
    );
    assert.match(result.stdout, /^Prometheus metrics: http:\/\/127\.0\.0\.1:\d+\/metrics$/m);
    process.stderr.write(`demo --exit took ${Date.now() - started} ms\n`);
  });
});
