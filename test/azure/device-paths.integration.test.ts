/**
 * A device id never leaves its own path segment: every request the product makes for a device, for a hostile
 * set of ids, is recorded by the emulator (raw request targets, as received) and must address exactly that
 * device's resource. Ids that are or decode to '.' or '..' are refused before any request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deviceResourceUrl, encodeDeviceIdSegment } from '../../src/azure/device-url';
import { isAzureRequestError } from '../../src/azure/errors';
import { FailureType } from '../../src/domain/failure-codes';
import { startTestWorld, type TestWorld } from './emulator-support';

const policy = { version: 1, rules: [{ id: 'tls-min', setting: 'tls.minVersion', value: '1.2' }] };

/** Ids IoT Hub or a hostile inventory may hold, that a naive URL builder would let escape. */
const HOSTILE_IDS = [
  '/',
  '../../providers/Microsoft.Authorization/roleAssignments/x',
  'a/../../b',
  'a%2Fb',
  'a%2F..%2F..',
  'a?b=c',
  'a#b',
  '$edgeAgent',
  '...',
  '.a',
  'a.',
  "quote'(paren)*!",
  '%',
  '%zz',
];
const DOT_IDS = ['.', '..', '%2e', '%2E%2e', '.%2E', '%252e%252e', '%2525252e'];

/** Entra ID's paths (token, OpenID metadata, discovery): not about any device. */
function isEntraId(path: string): boolean {
  return /^\/(common|organizations|[0-9a-f-]{36})\/(oauth2|v2\.0|discovery)\//i.test(path);
}

function lastSegment(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

void describe('device ids stay in their own path segment', () => {
  let world: TestWorld;
  before(async () => {
    world = await startTestWorld({ devices: 2 });
    world.emulator.registerDevices(HOSTILE_IDS);
  });
  after(async () => {
    await world.close();
  });

  for (const target of ['arm', 'twin'] as const) {
    void it(`${target}: every request for a hostile id addresses that device's resource only`, async () => {
      const writer = world.azure.writers[target];
      const collection = target === 'arm' ? `${world.emulator.hub.scope}/securityPolicies` : '/twins';
      for (const deviceId of HOSTILE_IDS) {
        const before = world.emulator.requestLog().length;
        const result = await writer.writePolicy({ deviceId, document: policy });
        assert.equal(result.status, 'succeeded', deviceId);
        const requests = world.emulator
          .requestLog()
          .slice(before)
          .filter((r) => !isEntraId(r.path));
        assert.ok(requests.length >= 2, `${deviceId}: a read and a write`);
        for (const request of requests) {
          assert.equal(
            request.path,
            `${collection}/${encodeDeviceIdSegment(deviceId)}`,
            `${deviceId}: ${request.method}`,
          );
          assert.equal(decodeURIComponent(lastSegment(request.path)), deviceId);
        }
      }
      const state = world.emulator.state().devices;
      for (const deviceId of HOSTILE_IDS) {
        const device = state[deviceId];
        assert.ok(device, deviceId);
        if (target === 'arm') assert.deepEqual(device.policy, policy, deviceId);
        else assert.deepEqual(device.twinPolicy, policy, deviceId);
      }
    });

    void it(`${target}: '.' and '..' (and encoded forms) are refused before any request`, async () => {
      const writer = world.azure.writers[target];
      const before = world.emulator.requestLog().length;
      for (const deviceId of DOT_IDS) {
        await assert.rejects(writer.writePolicy({ deviceId, document: policy }), (e: unknown) => {
          assert.ok(isAzureRequestError(e), deviceId);
          assert.equal(e.code, FailureType.InvalidDeviceId, deviceId);
          assert.equal(e.retryable, false);
          assert.match(e.message, /cannot be addressed/);
          return true;
        });
      }
      assert.deepEqual(world.emulator.requestLog().slice(before), []);
    });
  }
});

void describe('deviceResourceUrl', () => {
  void it('keeps the id as the last segment of the collection, or refuses', () => {
    const base = 'https://hub.example:8443/twins';
    assert.equal(
      deviceResourceUrl(base, 'a/b', 'api-version=1'),
      'https://hub.example:8443/twins/a%2Fb?api-version=1',
    );
    assert.equal(deviceResourceUrl(`${base}/`, 'x', 'q=1'), 'https://hub.example:8443/twins/x?q=1');
    for (const id of [...DOT_IDS, '']) {
      assert.throws(
        () => deviceResourceUrl(base, id, 'q=1'),
        (e: unknown) => isAzureRequestError(e),
        id,
      );
    }
  });
});
