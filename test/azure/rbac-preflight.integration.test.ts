import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAzureRequestError } from '../../src/azure/errors';
import { sendAuthorized } from '../../src/azure/http';
import { CUSTOM_ROLE_NAME } from '../../src/azure/permissions';
import {
  AUTHORIZATION_API_VERSION,
  checkRolePropagation,
  waitForPropagation,
} from '../../src/azure/preflight';
import { customRoleGuid, nameBasedGuid, setupRbac, toAzureError } from '../../src/azure/rbac';
import { FailureType } from '../../src/domain/failure-codes';
import { startTestWorld, type TestWorld } from './emulator-support';

/** Creates a role and assigns it to the emulator's principal at hub scope, by plain REST. */
async function grant(world: TestWorld, name: string, permissions: Record<string, string[]>): Promise<void> {
  const { azure, emulator } = world;
  const scope = emulator.hub.scope;
  const roleGuid = nameBasedGuid(`test-role|${name}`);
  const base = `${emulator.url}${scope}/providers/Microsoft.Authorization`;
  const q = `?api-version=${AUTHORIZATION_API_VERSION}`;
  const role = await sendAuthorized(
    azure.http,
    azure.armTokens,
    {
      method: 'PUT',
      url: `${base}/roleDefinitions/${roleGuid}${q}`,
      json: {
        properties: {
          roleName: name,
          type: 'CustomRole',
          permissions: [{ actions: [], notActions: [], dataActions: [], notDataActions: [], ...permissions }],
          assignableScopes: [scope],
        },
      },
    },
    { operation: 'test role' },
  );
  assert.equal(role.statusCode, 201, JSON.stringify(role.body));
  const assignment = await sendAuthorized(
    azure.http,
    azure.armTokens,
    {
      method: 'PUT',
      url: `${base}/roleAssignments/${nameBasedGuid(`test-assignment|${name}`)}${q}`,
      json: {
        properties: {
          roleDefinitionId: `/subscriptions/${emulator.hub.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`,
          principalId: emulator.principal.objectId,
          principalType: 'ServicePrincipal',
        },
      },
    },
    { operation: 'test assignment' },
  );
  assert.equal(assignment.statusCode, 201, JSON.stringify(assignment.body));
}

void describe('preflight (checkRolePropagation) against the emulator', () => {
  void it('reports missing before the propagation delay and granted after it, naming the roles assigned', async () => {
    const world = await startTestWorld({
      profile: 'seed',
      faults: { propagation: { delayMs: 2500, flakyWindowMs: 0, flakyRatio: 0 } },
    });
    try {
      const before = await checkRolePropagation(world.azure.rolePropagation, 'arm');
      assert.equal(before.granted, false);
      assert.deepEqual(before.missing, [
        'Microsoft.Devices/IotHubs/securityPolicies/read',
        'Microsoft.Devices/IotHubs/securityPolicies/write',
      ]);
      assert.deepEqual(before.rolesAssigned, ['IoT Hub Security Policy Operator (emulator)']);
      assert.equal(before.grantingRole, CUSTOM_ROLE_NAME);

      const checks: boolean[] = [];
      const after = await waitForPropagation(world.azure.rolePropagation, {
        target: 'arm',
        timeoutInMs: 10_000,
        firstRecheckInMs: 200,
        maxRecheckInMs: 400,
        onCheck: (report) => checks.push(report.granted),
      });
      assert.equal(after.granted, true);
      assert.deepEqual(after.missing, []);
      assert.ok(checks.length >= 2 && checks[0] === false);
      // The twin target needs data actions; the start grant has them too.
      assert.equal((await checkRolePropagation(world.azure.rolePropagation, 'twin')).granted, true);
    } finally {
      await world.close();
    }
  });

  void it('gives up at the timeout with granted: false', async () => {
    const world = await startTestWorld({ grantOnStart: false });
    try {
      const report = await waitForPropagation(world.azure.rolePropagation, {
        target: 'twin',
        timeoutInMs: 300,
        firstRecheckInMs: 100,
      });
      assert.equal(report.granted, false);
      assert.deepEqual(report.missing, [
        'Microsoft.Devices/IotHubs/twins/read',
        'Microsoft.Devices/IotHubs/twins/write',
      ]);
      assert.deepEqual(report.rolesAssigned, []);
    } finally {
      await world.close();
    }
  });

  void it('a wildcard role (Microsoft.Devices/*) counts as granted; a notAction takes the action away again', async () => {
    const world = await startTestWorld({ grantOnStart: false });
    try {
      await grant(world, 'Devices minus policy writes', {
        actions: ['Microsoft.Devices/*'],
        notActions: ['Microsoft.Devices/IotHubs/securityPolicies/write'],
      });
      const partial = await checkRolePropagation(world.azure.rolePropagation, 'arm');
      assert.equal(partial.granted, false);
      assert.deepEqual(partial.missing, ['Microsoft.Devices/IotHubs/securityPolicies/write']);
      assert.deepEqual(partial.rolesAssigned, ['Devices minus policy writes']);

      await grant(world, 'All devices', { actions: ['Microsoft.Devices/*'] });
      const full = await checkRolePropagation(world.azure.rolePropagation, 'arm');
      assert.equal(full.granted, true);
      assert.deepEqual(full.rolesAssigned, ['All devices', 'Devices minus policy writes']);
      // Actions never grant data actions.
      assert.equal((await checkRolePropagation(world.azure.rolePropagation, 'twin')).granted, false);
    } finally {
      await world.close();
    }
  });
});

void describe('setupRbac against the emulator', () => {
  void it('run twice leaves one role definition and one assignment, and the second run writes nothing', async () => {
    const world = await startTestWorld({ grantOnStart: false });
    try {
      const options = {
        credential: world.azure.armTokens.asTokenCredential(),
        armEndpoint: world.config.azure.armEndpoint,
        subscriptionId: world.config.azure.subscriptionId,
        hubScope: world.config.hub.scope,
        principalObjectId: world.emulator.principal.objectId,
        target: 'arm' as const,
        propagation: {
          check: world.azure.rolePropagation,
          wait: { timeoutInMs: 5000, firstRecheckInMs: 100 },
        },
      };
      const first = await setupRbac(options);
      assert.equal(first.role, 'created');
      assert.equal(first.assignment, 'created');
      assert.equal(first.permissions?.granted, true);
      assert.ok(first.roleDefinitionId.endsWith(customRoleGuid(world.config.hub.scope)));

      const writesBefore = world.emulator.requestLog().filter((r) => r.method === 'PUT').length;
      const second = await setupRbac(options);
      assert.equal(second.role, 'unchanged');
      assert.equal(second.assignment, 'unchanged');
      assert.equal(second.roleAssignmentId, first.roleAssignmentId);
      assert.equal(
        world.emulator.requestLog().filter((r) => r.method === 'PUT').length,
        writesBefore,
        'no PUT on the second run',
      );

      const state = world.emulator.state();
      assert.equal(state.roleAssignments.length, 1);
      const list = await sendAuthorized(
        world.azure.http,
        world.azure.armTokens,
        {
          method: 'GET',
          url: `${world.emulator.url}${world.config.hub.scope}/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01&$filter=${encodeURIComponent(`roleName eq '${CUSTOM_ROLE_NAME}'`)}`,
        },
        { operation: 'list' },
      );
      assert.equal((list.body as { value: unknown[] }).value.length, 1);

      // Switching target updates the same role in place.
      const twin = await setupRbac({ ...options, target: 'twin', propagation: undefined });
      assert.equal(twin.role, 'updated');
      assert.equal(twin.assignment, 'unchanged');
      assert.equal((await checkRolePropagation(world.azure.rolePropagation, 'twin')).granted, true);
    } finally {
      await world.close();
    }
  });

  void it("in strict public-Azure mode, the arm target's role is refused with a plain message pointing to POLICY_TARGET=twin", async () => {
    const world = await startTestWorld({ grantOnStart: false, catalog: 'public' });
    try {
      const options = {
        credential: world.azure.armTokens.asTokenCredential(),
        armEndpoint: world.config.azure.armEndpoint,
        subscriptionId: world.config.azure.subscriptionId,
        hubScope: world.config.hub.scope,
        principalObjectId: world.emulator.principal.objectId,
      };
      await assert.rejects(setupRbac({ ...options, target: 'arm' }), (e: unknown) => {
        assert.ok(isAzureRequestError(e));
        assert.equal(e.code, FailureType.TargetUnsupported);
        assert.equal(e.azureCode, 'InvalidActionOrNotAction');
        assert.match(e.message, /no Microsoft\.Devices\/IotHubs\/securityPolicies actions/);
        assert.match(e.message, /Set POLICY_TARGET=twin and run setup-rbac again/);
        return true;
      });
      const twin = await setupRbac({ ...options, target: 'twin' });
      assert.equal(twin.role, 'created');

      // And the arm writer says the same on public Azure.
      await assert.rejects(
        world.azure.writers.arm.writePolicy({ deviceId: 'device-0001', document: { a: 1 } }),
        (e: unknown) => {
          assert.ok(isAzureRequestError(e));
          assert.equal(e.code, FailureType.TargetUnsupported);
          assert.match(e.message, /POLICY_TARGET=twin/);
          return true;
        },
      );
    } finally {
      await world.close();
    }
  });

  void it("a principal id that is not a service principal's object id is a configuration error that says which id to use", async () => {
    const world = await startTestWorld({ grantOnStart: false });
    try {
      await assert.rejects(
        setupRbac({
          credential: world.azure.armTokens.asTokenCredential(),
          armEndpoint: world.config.azure.armEndpoint,
          subscriptionId: world.config.azure.subscriptionId,
          hubScope: world.config.hub.scope,
          principalObjectId: nameBasedGuid('an application object id, not the principal'),
          target: 'twin',
        }),
        (e: unknown) => {
          assert.ok(isAzureRequestError(e));
          assert.equal(e.code, FailureType.Misconfigured);
          assert.equal(e.azureCode, 'PrincipalNotFound');
          assert.match(e.message, /service principal's object id/);
          return true;
        },
      );
    } finally {
      await world.close();
    }
  });

  void it('a role of the same name elsewhere in the tenant is a configuration error naming the way out', () => {
    // What @azure/arm-authorization throws for Azure's 409 (the emulator has one hub, so no second scope).
    const restError = Object.assign(
      new Error('A custom role with the same name already exists in this directory.'),
      {
        name: 'RestError',
        statusCode: 409,
        code: 'RoleDefinitionWithSameNameExists',
      },
    );
    const error = toAzureError(restError, `creating the custom role '${CUSTOM_ROLE_NAME}'`, 'arm');
    assert.equal(error.code, FailureType.Misconfigured);
    assert.match(error.message, /assignableScopes/);
    assert.match(error.message, /already exists in this directory/);
  });
});
