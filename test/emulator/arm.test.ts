import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { AuthorizationManagementClient } from '@azure/arm-authorization';
import type { Agent } from 'undici';
import { startEmulator, type Emulator } from '../../src/emulator';
import {
  authorizationApiVersion,
  call,
  errorCode,
  fetchToken,
  iotHubScope,
  managementScope,
  permissionsUrl,
  policyUrl,
  sleep,
  trustingAgent,
  twinUrl,
} from './helpers';
import { authorizationClient, credentialFor } from './sdk-clients';

const customRoleGuid = '11111111-2222-4333-8444-555555555555';
const seedActions = [
  'Microsoft.Devices/IotHubs/securityPolicies/read',
  'Microsoft.Devices/IotHubs/securityPolicies/write',
  'Microsoft.Devices/IotHubs/securityPolicies/delete',
];

// The real Azure clients against the emulator: real ClientSecretCredential → AuthorizationManagementClient → undici.
void it('emulator: a real credential gets tokens, the real ARM client lists permissions, undici writes a policy and a twin', async () => {
  const emulator = await startEmulator({ devices: 5 });
  const agent = trustingAgent(emulator);
  try {
    const credential = credentialFor(emulator);
    const client = authorizationClient(emulator);
    const permissions = [];
    for await (const permission of client.permissions.listForResource(
      emulator.hub.resourceGroup,
      'Microsoft.Devices',
      '',
      'IotHubs',
      emulator.hub.name,
    )) {
      permissions.push(permission);
    }
    assert.ok(
      permissions.some((permission) =>
        permission.actions?.includes('Microsoft.Devices/IotHubs/securityPolicies/write'),
      ),
    );

    const managementToken = (await credential.getToken(managementScope)).token;
    const document = { version: 3, rules: [{ id: 'ssh-off', setting: 'services.ssh', value: 'disabled' }] };
    const put = await call(agent, policyUrl(emulator, 'device-0001'), {
      method: 'PUT',
      token: managementToken,
      body: document,
    });
    assert.equal(put.status, 201);
    const get = await call(agent, policyUrl(emulator, 'device-0001'), { token: managementToken });
    assert.deepEqual((get.json as { properties: unknown }).properties, document);

    const iotHubToken = (await credential.getToken(iotHubScope)).token;
    const patch = await call(agent, twinUrl(emulator, 'device-0002'), {
      method: 'PATCH',
      token: iotHubToken,
      headers: { 'if-match': '*' },
      body: { properties: { desired: { securityPolicy: document } } },
    });
    assert.equal(patch.status, 200);

    const state = emulator.state();
    assert.deepEqual(state.devices['device-0001']?.policy, document);
    assert.deepEqual(state.devices['device-0002']?.twinPolicy, document);
    const writes = Object.values(state.devices).reduce((sum, device) => sum + device.writes, 0);
    assert.equal(writes, 2);
    assert.ok(emulator.issuedTokens().includes(managementToken));
  } finally {
    await agent.close();
    await emulator.close();
  }
});

void describe('emulator: Resource Manager with the real AuthorizationManagementClient', () => {
  let emulator: Emulator;
  let client: AuthorizationManagementClient;
  before(async () => {
    emulator = await startEmulator({ devices: 10 });
    client = authorizationClient(emulator);
  });
  after(() => emulator.close());

  void it('lists the permissions of the start grant at hub scope', async () => {
    const permissions = [];
    for await (const permission of client.permissions.listForResource(
      emulator.hub.resourceGroup,
      'Microsoft.Devices',
      '',
      'IotHubs',
      emulator.hub.name,
    )) {
      permissions.push(permission);
    }
    assert.equal(permissions.length, 1);
    assert.deepEqual(permissions[0]?.actions?.slice(0, 3), seedActions);
    assert.deepEqual(permissions[0]?.dataActions, [
      'Microsoft.Devices/IotHubs/twins/read',
      'Microsoft.Devices/IotHubs/twins/write',
    ]);
    const atGroup = [];
    for await (const permission of client.permissions.listForResourceGroup(emulator.hub.resourceGroup)) {
      atGroup.push(permission);
    }
    assert.deepEqual(atGroup, [], 'a hub-scope grant is not visible at resource-group scope');
  });

  void it('creates, reads, finds and validates custom role definitions', async () => {
    const created = await client.roleDefinitions.createOrUpdate(emulator.hub.scope, customRoleGuid, {
      roleName: 'IoT Security Policy Writer',
      description: 'writes security policies',
      roleType: 'CustomRole',
      permissions: [
        {
          actions: ['Microsoft.Devices/IotHubs/securityPolicies/*'],
          dataActions: ['Microsoft.Devices/IotHubs/twins/*'],
        },
      ],
      assignableScopes: [emulator.hub.scope],
    });
    assert.equal(created.name, customRoleGuid);
    assert.equal(created.type, 'Microsoft.Authorization/roleDefinitions');
    assert.equal(created.roleType, 'CustomRole');
    const again = await client.roleDefinitions.get(emulator.hub.scope, customRoleGuid);
    assert.equal(again.roleName, 'IoT Security Policy Writer');
    const byName = [];
    for await (const definition of client.roleDefinitions.list(emulator.hub.scope, {
      filter: "roleName eq 'IoT Security Policy Writer'",
    })) {
      byName.push(definition);
    }
    assert.deepEqual(
      byName.map((definition) => definition.id),
      [
        `/subscriptions/${emulator.hub.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${customRoleGuid}`,
      ],
    );
    await assert.rejects(
      client.roleDefinitions.createOrUpdate(emulator.hub.scope, '99999999-2222-4333-8444-555555555555', {
        roleName: 'iot security policy writer',
        roleType: 'CustomRole',
        permissions: [{ actions: ['Microsoft.Devices/IotHubs/securityPolicies/read'] }],
        assignableScopes: [emulator.hub.scope],
      }),
      (error: { statusCode?: number; code?: string }) =>
        error.statusCode === 409 && error.code === 'RoleDefinitionWithSameNameExists',
    );
    await assert.rejects(
      client.roleDefinitions.createOrUpdate(emulator.hub.scope, '99999999-2222-4333-8444-555555555555', {
        roleName: 'Twins as actions',
        roleType: 'CustomRole',
        permissions: [{ actions: ['Microsoft.Devices/IotHubs/twins/write'] }],
        assignableScopes: [emulator.hub.scope],
      }),
      (error: { statusCode?: number; code?: string; message?: string }) =>
        error.statusCode === 400 &&
        error.code === 'InvalidActionOrNotAction' &&
        /'Microsoft\.Devices\/IotHubs\/twins\/write' does not match any of the actions supported by the providers/.test(
          error.message ?? '',
        ),
    );
  });

  void it('creates role assignments idempotently, refuses duplicates and scopes outside assignableScopes', async () => {
    const roleDefinitionId = `/subscriptions/${emulator.hub.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${customRoleGuid}`;
    const name = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    const parameters = {
      roleDefinitionId,
      principalId: emulator.principal.objectId,
      principalType: 'ServicePrincipal',
    };
    const created = await client.roleAssignments.create(emulator.hub.scope, name, parameters);
    assert.equal(created.name, name);
    assert.equal(created.scope, emulator.hub.scope);
    assert.equal(created.type, 'Microsoft.Authorization/roleAssignments');
    const repeated = await client.roleAssignments.create(emulator.hub.scope, name, parameters);
    assert.equal(repeated.id, created.id);
    await assert.rejects(
      client.roleAssignments.create(emulator.hub.scope, 'aaaaaaaa-bbbb-4ccc-8ddd-ffffffffffff', parameters),
      (error: { statusCode?: number; code?: string }) =>
        error.statusCode === 409 && error.code === 'RoleAssignmentExists',
    );
    const groupScope = `/subscriptions/${emulator.hub.subscriptionId}/resourceGroups/${emulator.hub.resourceGroup}`;
    await assert.rejects(
      client.roleAssignments.create(groupScope, 'aaaaaaaa-bbbb-4ccc-8ddd-000000000000', parameters),
      (error: { statusCode?: number; code?: string }) =>
        error.statusCode === 400 && error.code === 'RoleDefinitionDoesNotExist',
    );
    const listed = [];
    for await (const assignment of client.roleAssignments.listForScope(emulator.hub.scope, {
      filter: `principalId eq '${emulator.principal.objectId}'`,
    })) {
      listed.push(assignment.name);
    }
    assert.deepEqual(listed.sort(), ['a1c3e5f7-0000-4000-8000-000000000001', name].sort());
    const fetched = await client.roleAssignments.get(emulator.hub.scope, name);
    assert.equal(fetched.roleDefinitionId, roleDefinitionId);
  });
});

void describe('emulator: Resource Manager wire contract (undici)', () => {
  let emulator: Emulator;
  let agent: Agent;
  let token: string;
  before(async () => {
    emulator = await startEmulator({ devices: 12 });
    agent = trustingAgent(emulator);
    token = await fetchToken(agent, emulator, managementScope);
  });
  after(async () => {
    await agent.close();
    await emulator.close();
  });

  void it('PUTs, GETs and DELETEs a security policy, and the state shows exactly what was written', async () => {
    const document = { version: 3, rules: [{ id: 'tls-min', setting: 'tls.minVersion', value: '1.2' }] };
    const missing = await call(agent, policyUrl(emulator, 'device-0002'), { token });
    assert.equal(missing.status, 404);
    assert.equal(errorCode(missing), 'ResourceNotFound');
    const created = await call(agent, policyUrl(emulator, 'device-0002'), {
      method: 'PUT',
      token,
      body: document,
    });
    assert.equal(created.status, 201);
    // ARM's envelope of a proxy resource: id, name, type, properties, systemData.
    const { systemData, ...resource } = created.json as { systemData: Record<string, unknown> };
    assert.deepEqual(resource, {
      id: `${emulator.hub.scope}/securityPolicies/device-0002`,
      name: 'device-0002',
      type: 'Microsoft.Devices/IotHubs/securityPolicies',
      properties: document,
    });
    assert.equal(systemData.createdBy, emulator.env.SERVICE_PRINCIPAL_OBJECT_ID);
    assert.equal(systemData.createdByType, 'Application');
    assert.equal(systemData.lastModifiedAt, systemData.createdAt);
    assert.ok(!Number.isNaN(Date.parse(String(systemData.createdAt))));
    const replaced = await call(agent, policyUrl(emulator, 'device-0002'), {
      method: 'PUT',
      token,
      body: { ...document, version: 4 },
    });
    assert.equal(replaced.status, 200);
    const read = await call(agent, policyUrl(emulator, 'device-0002'), { token });
    assert.equal(read.status, 200);
    assert.deepEqual((read.json as { properties: unknown }).properties, { ...document, version: 4 });
    // ARM's resource form sets the properties (and tags); the server's own keys stay its own.
    const resourceForm = await call(agent, policyUrl(emulator, 'device-0004'), {
      method: 'PUT',
      token,
      body: { name: 'ignored', tags: { owner: 'ops' }, properties: document },
    });
    assert.equal(resourceForm.status, 201);
    const readForm = (await call(agent, policyUrl(emulator, 'device-0004'), { token })).json as Record<
      string,
      unknown
    >;
    assert.equal(readForm.name, 'device-0004');
    assert.deepEqual(readForm.tags, { owner: 'ops' });
    assert.deepEqual(readForm.properties, document);
    await call(agent, policyUrl(emulator, 'device-0004'), { method: 'DELETE', token });
    await call(agent, policyUrl(emulator, 'device-0003'), { method: 'PUT', token, body: document });
    const removed = await call(agent, policyUrl(emulator, 'device-0003'), { method: 'DELETE', token });
    assert.equal(removed.status, 200);

    const state = emulator.state();
    assert.deepEqual(state.devices['device-0002'], {
      policy: { ...document, version: 4 },
      writes: 2,
      armWrites: 2,
      twinWrites: 0,
      twinPolicy: null,
      connectionState: 'Connected',
      reportedPolicy: null,
      acknowledgement: null,
    });
    assert.equal(state.devices['device-0003']?.policy, null);
    assert.equal(state.devices['device-0003']?.writes, 2);
    const untouched = Object.entries(state.devices).filter(
      ([id]) => id !== 'device-0002' && id !== 'device-0003' && id !== 'device-0004',
    );
    assert.ok(untouched.every(([, device]) => device.policy === null && device.writes === 0));
    assert.equal(Object.keys(state.devices).length, 12);
  });

  void it('answers 404 DeviceNotFound for a device the hub does not have', async () => {
    const result = await call(agent, policyUrl(emulator, 'device-9999'), {
      method: 'PUT',
      token,
      body: { version: 1 },
    });
    assert.equal(result.status, 404);
    assert.equal(errorCode(result), 'DeviceNotFound');
  });

  void it('refuses missing, unknown and wrong-audience tokens with 401 and WWW-Authenticate', async () => {
    const none = await call(agent, policyUrl(emulator, 'device-0001'));
    assert.equal(none.status, 401);
    assert.equal(errorCode(none), 'AuthenticationFailed');
    assert.match(none.headers['www-authenticate'] ?? '', /^Bearer authorization_uri="/);
    const unknown = await call(agent, policyUrl(emulator, 'device-0001'), { token: 'not-a-token' });
    assert.equal(errorCode(unknown), 'InvalidAuthenticationToken');
    const iotHubToken = await fetchToken(agent, emulator, iotHubScope);
    const wrongAudience = await call(agent, policyUrl(emulator, 'device-0001'), { token: iotHubToken });
    assert.equal(wrongAudience.status, 401);
    assert.equal(errorCode(wrongAudience), 'InvalidAuthenticationTokenAudience');
  });

  void it('validates api-version, JSON and size of the body', async () => {
    const badVersion = await call(agent, policyUrl(emulator, 'device-0001', '2099-01-01'), { token });
    assert.equal(badVersion.status, 400);
    assert.equal(errorCode(badVersion), 'NoRegisteredProviderFound');
    const noVersion = await call(agent, `${emulator.url}${emulator.hub.scope}/securityPolicies/device-0001`, {
      token,
    });
    assert.equal(errorCode(noVersion), 'MissingApiVersionParameter');
    const notJson = await call(agent, policyUrl(emulator, 'device-0001'), {
      method: 'PUT',
      token,
      body: '{not json',
    });
    assert.equal(notJson.status, 400);
    assert.equal(errorCode(notJson), 'InvalidRequestContent');
    const huge = { version: 1, padding: 'x'.repeat(33 * 1024) };
    const tooLarge = await call(agent, policyUrl(emulator, 'device-0001'), {
      method: 'PUT',
      token,
      body: huge,
    });
    assert.equal(tooLarge.status, 400);
    assert.equal(emulator.state().devices['device-0001']?.writes, 0);
    const badAuthVersion = await call(
      agent,
      permissionsUrl(emulator).replace(authorizationApiVersion, '1999-01-01'),
      { token },
    );
    assert.equal(errorCode(badAuthVersion), 'InvalidApiVersionParameter');
  });

  void it("puts x-ms-request-id on every answer, and the caller's remaining-requests headers once it is known", async () => {
    const answers = [
      await call(agent, permissionsUrl(emulator), { token }),
      await call(agent, policyUrl(emulator, 'device-0004'), { method: 'PUT', token, body: { version: 1 } }),
      await call(agent, policyUrl(emulator, 'device-0004'), { token }),
      await call(
        agent,
        `${emulator.url}/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/x?api-version=2021-04-01`,
        { token },
      ),
    ];
    for (const answer of answers) {
      assert.match(answer.headers['x-ms-request-id'] ?? '', /^[0-9a-f-]{36}$/);
      assert.match(answer.headers['x-ms-ratelimit-remaining-subscription-reads'] ?? '', /^\d+$/);
      assert.match(answer.headers['x-ms-ratelimit-remaining-subscription-writes'] ?? '', /^\d+$/);
    }
    assert.equal(errorCode(answers[3]!), 'SubscriptionNotFound');
    // Before the caller is known there is no bucket to report.
    const anonymous = await call(agent, permissionsUrl(emulator));
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers['x-ms-request-id'] ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(anonymous.headers['x-ms-ratelimit-remaining-subscription-writes'], undefined);
  });

  void it('survives garbage on the wire with a 400 and keeps serving', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(
        { host: '127.0.0.1', port: emulator.port, ca: emulator.caPem, servername: 'localhost' },
        () => {
          socket.write('THIS IS NOT HTTP\r\n\r\n');
        },
      );
      let data = '';
      socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    assert.match(reply, /^HTTP\/1\.1 400 Bad Request/);
    const after = await call(agent, permissionsUrl(emulator), { token });
    assert.equal(after.status, 200);
  });

  void it('expires tokens after tokenLifetimeSeconds', async () => {
    const shortLived = await startEmulator({ devices: 1, tokenLifetimeSeconds: 3 });
    const shortAgent = trustingAgent(shortLived);
    try {
      const shortToken = await fetchToken(shortAgent, shortLived, managementScope);
      assert.equal((await call(shortAgent, permissionsUrl(shortLived), { token: shortToken })).status, 200);
      await sleep(3_100);
      const expired = await call(shortAgent, permissionsUrl(shortLived), { token: shortToken });
      assert.equal(expired.status, 401);
      assert.equal(errorCode(expired), 'ExpiredAuthenticationToken');
    } finally {
      await shortAgent.close();
      await shortLived.close();
    }
  });
});

void describe('emulator: authorization failures and catalogs', () => {
  void it('answers 403 AuthorizationFailed with the seed’s sentence when the principal lacks the action', async () => {
    const emulator = await startEmulator({ devices: 2, grantOnStart: false });
    const agent = trustingAgent(emulator);
    try {
      const token = await fetchToken(agent, emulator, managementScope);
      const permissions = await call(agent, permissionsUrl(emulator), { token });
      assert.deepEqual(permissions.json, { value: [] });
      const result = await call(agent, policyUrl(emulator, 'device-0001'), {
        method: 'PUT',
        token,
        body: { version: 1 },
      });
      assert.equal(result.status, 403);
      assert.equal(errorCode(result), 'AuthorizationFailed');
      const message = (result.json as { error: { message: string } }).error.message;
      assert.ok(
        message.includes(
          "Client does not have permission to perform action 'Microsoft.Devices/IotHubs/securityPolicies/write'",
        ),
      );
      assert.ok(
        message.includes(
          `The client '${emulator.principal.objectId}' with object id '${emulator.principal.objectId}'`,
        ),
      );
      assert.equal(emulator.state().devices['device-0001']?.writes, 0);
      assert.equal(emulator.requestLog().at(-1)?.code, 'AuthorizationFailed');
    } finally {
      await agent.close();
      await emulator.close();
    }
  });

  void it('public catalog: no securityPolicies type, and a role naming its actions is InvalidActionOrNotAction', async () => {
    const emulator = await startEmulator({ devices: 2, catalog: 'public' });
    const client = authorizationClient(emulator);
    const agent = trustingAgent(emulator);
    try {
      await assert.rejects(
        client.roleDefinitions.createOrUpdate(emulator.hub.scope, customRoleGuid, {
          roleName: 'IoT Security Policy Writer',
          roleType: 'CustomRole',
          permissions: [{ actions: ['Microsoft.Devices/IotHubs/securityPolicies/write'] }],
          assignableScopes: [emulator.hub.scope],
        }),
        (error: { statusCode?: number; code?: string; message?: string }) =>
          error.statusCode === 400 &&
          error.code === 'InvalidActionOrNotAction' &&
          (error.message ?? '').includes(
            "'Microsoft.Devices/IotHubs/securityPolicies/write' does not match any of the actions",
          ),
      );
      const twinsRole = await client.roleDefinitions.createOrUpdate(emulator.hub.scope, customRoleGuid, {
        roleName: 'Twin policy writer',
        roleType: 'CustomRole',
        permissions: [
          { actions: ['Microsoft.Devices/IotHubs/Read'], dataActions: ['Microsoft.Devices/IotHubs/twins/*'] },
        ],
        assignableScopes: [emulator.hub.scope],
      });
      assert.equal(twinsRole.roleName, 'Twin policy writer');
      const token = await fetchToken(agent, emulator, managementScope);
      const result = await call(agent, policyUrl(emulator, 'device-0001'), {
        method: 'PUT',
        token,
        body: { version: 1 },
      });
      assert.equal(result.status, 404);
      assert.equal(errorCode(result), 'InvalidResourceType');
      assert.match(
        (result.json as { error: { message: string } }).error.message,
        /The resource type 'securityPolicies' could not be found in the namespace 'Microsoft.Devices' for api version '2021-07-01'/,
      );
    } finally {
      await agent.close();
      await emulator.close();
    }
  });
});
