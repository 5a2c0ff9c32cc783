import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPublishedOperation, loadOperationCatalog, operationMatches } from '../../src/emulator/catalog';
import { deviceIdFor, mergePatch, parseDeviceQuery, twinEtag, twinMatches } from '../../src/emulator/devices';
import { emulatorProfiles, resolveFaultSettings } from '../../src/emulator/fault-settings';
import { createRandomSource } from '../../src/emulator/prng';
import {
  permits,
  propagationPhase,
  RbacStore,
  scopeContains,
  type RoleAssignmentRecord,
} from '../../src/emulator/rbac';
import { takeToken, type TokenBucketState } from '../../src/emulator/token-bucket';

void describe('emulator building blocks', () => {
  void it('random streams repeat under the same seed and stream, and differ otherwise', () => {
    const draw = (seed: number, stream: string): number[] => {
      const random = createRandomSource(seed, stream);
      return Array.from({ length: 5 }, () => random());
    };
    assert.deepEqual(draw(1, 'transient'), draw(1, 'transient'));
    assert.notDeepEqual(draw(1, 'transient'), draw(2, 'transient'));
    assert.notDeepEqual(draw(1, 'transient'), draw(1, 'latency'));
    assert.ok(draw(9, 'x').every((value) => value >= 0 && value < 1));
  });

  void it('a token bucket empties after its burst, says when to retry, and refills with time', () => {
    const settings = { burst: 3, refillPerSec: 2 };
    let state: TokenBucketState | undefined;
    const remaining: number[] = [];
    for (let i = 0; i < 3; i++) {
      const decision = takeToken(state, settings, 1_000);
      assert.ok(decision.allowed);
      remaining.push(decision.remaining);
      state = decision.state;
    }
    assert.deepEqual(remaining, [2, 1, 0]);
    const refused = takeToken(state, settings, 1_000);
    assert.deepEqual([refused.allowed, refused.retryAfterSeconds], [false, 1]);
    assert.ok(takeToken(refused.state, settings, 1_500).allowed, 'half a second refills one token at 2/s');
    assert.equal(takeToken(undefined, { burst: 5, refillPerSec: 0.1 }, 0).remaining, 4);
    const slow = takeToken({ tokens: 0, updatedAtMs: 0 }, { burst: 5, refillPerSec: 0.1 }, 0);
    assert.equal(slow.retryAfterSeconds, 10);
  });

  void it('matches operations as Azure does: case-insensitive, * spans segments', () => {
    assert.ok(operationMatches('Microsoft.Devices/*', 'Microsoft.Devices/IotHubs/securityPolicies/write'));
    assert.ok(operationMatches('*/read', 'Microsoft.Devices/iotHubs/Read'));
    assert.ok(
      operationMatches(
        'microsoft.devices/iothubs/SECURITYPOLICIES/write',
        'Microsoft.Devices/IotHubs/securityPolicies/write',
      ),
    );
    assert.ok(
      !operationMatches('Microsoft.Devices/IotHubs/twins/read', 'Microsoft.Devices/IotHubs/twins/write'),
    );
    assert.ok(
      !operationMatches('Microsoft.Devices/IotHubs.x', 'Microsoft.Devices/IotHubsAx'),
      'dots are literal',
    );
  });

  void it('the catalog knows securityPolicies only in the seed environment', () => {
    const seed = loadOperationCatalog('seed');
    const strict = loadOperationCatalog('public');
    const write = 'Microsoft.Devices/IotHubs/securityPolicies/write';
    assert.ok(isPublishedOperation(seed, 'action', write));
    assert.ok(!isPublishedOperation(strict, 'action', write));
    assert.ok(!isPublishedOperation(strict, 'action', 'Microsoft.Devices/IotHubs/securityPolicies/*'));
    assert.ok(isPublishedOperation(strict, 'action', 'Microsoft.Devices/iotHubs/securitySettings/write'));
    assert.ok(isPublishedOperation(strict, 'dataAction', 'Microsoft.Devices/IotHubs/twins/write'));
    assert.ok(
      !isPublishedOperation(strict, 'action', 'Microsoft.Devices/IotHubs/twins/write'),
      'a data action is not an action',
    );
    assert.ok(isPublishedOperation(strict, 'action', 'Microsoft.Devices/*'));
    assert.ok(
      isPublishedOperation(strict, 'action', 'Microsoft.Resources/subscriptions/resourceGroups/read'),
    );
    assert.ok(isPublishedOperation(strict, 'action', '*'));
    assert.ok(!isPublishedOperation(strict, 'dataAction', '*'));
    assert.ok(!isPublishedOperation(strict, 'action', 'nonsense'));
  });

  void it('profiles resolve with overrides applied field by field', () => {
    assert.deepEqual(resolveFaultSettings('calm'), emulatorProfiles.calm);
    const seed = resolveFaultSettings('seed', { propagation: { delayMs: 10 } });
    assert.deepEqual(seed.propagation, { delayMs: 10, flakyWindowMs: 15_000, flakyRatio: 0.6 });
    const hostile = resolveFaultSettings('hostile', { throttling: { armReads: null } });
    assert.equal(hostile.throttling.armReads, null);
    assert.deepEqual(hostile.throttling.armWrites, { burst: 200, refillPerSec: 10 });
    assert.deepEqual(emulatorProfiles.throttled.throttling, {
      armWrites: { burst: 200, refillPerSec: 10 },
      armReads: { burst: 250, refillPerSec: 25 },
      twinUpdatesPerSec: 50,
    });
  });

  void it('assignments propagate: pending, settling, settled; permissions need an action and no notAction', () => {
    const propagation = { delayMs: 100, flakyWindowMs: 200, flakyRatio: 0.5 };
    const assignment: RoleAssignmentRecord = {
      name: 'a',
      scope: '/subscriptions/s/resourceGroups/rg',
      roleDefinitionGuid: 'r',
      principalId: 'p',
      principalType: 'ServicePrincipal',
      description: null,
      createdAtMs: 1_000,
      createdOn: '',
      updatedOn: '',
    };
    assert.equal(propagationPhase(assignment, 1_099, propagation), 'pending');
    assert.equal(propagationPhase(assignment, 1_100, propagation), 'settling');
    assert.equal(propagationPhase(assignment, 1_300, propagation), 'settled');
    const store = new RbacStore();
    store.putDefinition({
      guid: 'r',
      roleName: 'r',
      description: '',
      roleType: 'CustomRole',
      permissions: [
        { actions: ['Microsoft.Devices/*'], notActions: ['*/delete'], dataActions: [], notDataActions: [] },
      ],
      assignableScopes: ['/subscriptions/s'],
      createdOn: '',
      updatedOn: '',
    });
    store.putAssignment(assignment);
    const hub = '/subscriptions/s/resourceGroups/RG/providers/Microsoft.Devices/IotHubs/h';
    const write = 'Microsoft.Devices/IotHubs/securityPolicies/write';
    assert.equal(store.decideAccess('p', hub, write, 'action', 1_050, propagation), 'denied');
    assert.equal(store.decideAccess('p', hub, write, 'action', 1_150, propagation), 'settling');
    assert.equal(store.decideAccess('P', hub, write, 'action', 1_350, propagation), 'granted');
    assert.equal(
      store.decideAccess(
        'p',
        hub,
        'Microsoft.Devices/IotHubs/securityPolicies/delete',
        'action',
        1_350,
        propagation,
      ),
      'denied',
    );
    assert.equal(
      store.decideAccess('p', '/subscriptions/s', write, 'action', 1_350, propagation),
      'denied',
      'not above the assignment',
    );
    assert.ok(scopeContains('/', '/subscriptions/s'));
    assert.ok(!scopeContains('/subscriptions/s/resourceGroups/rg', '/subscriptions/s/resourceGroups/rg2'));
    assert.ok(
      !permits({ actions: [], notActions: [], dataActions: ['*'], notDataActions: [] }, write, 'action'),
    );
  });

  void it('device ids, etags, merge patches and the query subset', () => {
    assert.equal(deviceIdFor(7, 300), 'device-0007');
    assert.equal(deviceIdFor(7, 12_345), 'device-00007');
    assert.equal(twinEtag(1), 'AAAAAAAAAAE=');
    assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { a: null, b: { c: 4 }, e: [1], $version: 9 }), {
      b: { c: 4, d: 3 },
      e: [1],
    });
    // Any key is an own key of the result, '__proto__' included (JSON.parse keeps it as one).
    const merged = mergePatch(
      JSON.parse('{"constructor": 1, "keep": 2}') as Record<string, unknown>,
      JSON.parse('{"__proto__": {"x": 1}, "constructor": null, "n": {"__proto__": 2}}') as Record<
        string,
        unknown
      >,
    );
    assert.equal(JSON.stringify(merged), '{"keep":2,"__proto__":{"x":1},"n":{"__proto__":2}}');
    assert.equal(Object.getPrototypeOf(merged), Object.prototype);
    const query = parseDeviceQuery(
      "select * FROM devices WHERE tags.securityPolicy = 'it''s' AND properties.desired.n = 3",
    );
    assert.deepEqual(query, {
      conditions: [
        { path: ['tags', 'securityPolicy'], value: "it's" },
        { path: ['properties', 'desired', 'n'], value: 3 },
      ],
    });
    assert.ok(twinMatches({ tags: { securityPolicy: "it's" }, properties: { desired: { n: 3 } } }, query!));
    assert.deepEqual(parseDeviceQuery('SELECT deviceId, properties.desired.$version AS v FROM devices'), {
      projection: [
        { path: ['deviceId'], name: 'deviceId' },
        { path: ['properties', 'desired', '$version'], name: 'v' },
      ],
      conditions: [],
    });
    assert.equal(parseDeviceQuery('SELECT COUNT() AS n FROM devices'), undefined);
    assert.equal(parseDeviceQuery("SELECT * FROM devices WHERE tags.x > 'a'"), undefined);
  });
});
