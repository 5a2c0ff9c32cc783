import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Agent } from 'undici';
import { startEmulator, type Emulator } from '../../src/emulator';
import { call, iotHubScope, managementScope, trustingAgent } from './helpers';
import { credentialFor } from './sdk-clients';

void describe('emulator: Entra ID', () => {
  let emulator: Emulator;
  let agent: Agent;
  before(async () => {
    emulator = await startEmulator({ devices: 3, tokenLifetimeSeconds: 900 });
    agent = trustingAgent(emulator);
  });
  after(async () => {
    await agent.close();
    await emulator.close();
  });

  void it('serves OpenID metadata whose issuer has the authority’s scheme, host and port', async () => {
    const tenant = emulator.principal.tenantId;
    const result = await call(agent, `${emulator.url}/${tenant}/v2.0/.well-known/openid-configuration`);
    assert.equal(result.status, 200);
    const metadata = result.json as Record<string, string>;
    assert.equal(metadata['issuer'], `${emulator.url}/${tenant}/v2.0`);
    assert.equal(metadata['token_endpoint'], `${emulator.url}/${tenant}/oauth2/v2.0/token`);
    assert.ok(metadata['authorization_endpoint']?.startsWith(emulator.url));
    assert.ok(metadata['jwks_uri']?.startsWith(emulator.url));
    const keys = await call(agent, `${emulator.url}/${tenant}/discovery/v2.0/keys`);
    assert.deepEqual(keys.json, { keys: [] });
    const discovery = await call(agent, `${emulator.url}/common/discovery/instance?api-version=1.1`);
    assert.equal(discovery.status, 200);
  });

  void it('gives the real ClientSecretCredential a token (in-process, CA through tlsOptions)', async () => {
    const credential = credentialFor(emulator);
    const token = await credential.getToken(managementScope);
    assert.ok(token.token.length > 20);
    assert.ok(emulator.issuedTokens().includes(token.token));
    const expiresInSec = (token.expiresOnTimestamp - Date.now()) / 1000;
    assert.ok(expiresInSec > 800 && expiresInSec < 901, `expires in ${expiresInSec}s`);
    const record = emulator
      .requestLog()
      .find((entry) => entry.path.endsWith('/oauth2/v2.0/token') && entry.status === 200);
    assert.equal(record?.audience, 'https://management.azure.com');
    assert.equal(record?.principal, emulator.principal.objectId);
  });

  void it('refuses a wrong client secret with 401 invalid_client and AADSTS7000215', async () => {
    const raw = await call(agent, `${emulator.url}/${emulator.principal.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: emulator.principal.clientId,
        client_secret: 'not-the-secret',
        scope: managementScope,
      }).toString(),
    });
    assert.equal(raw.status, 401);
    const body = raw.json as { error: string; error_description: string; error_codes: number[] };
    assert.equal(body.error, 'invalid_client');
    assert.match(body.error_description, /^AADSTS7000215: Invalid client secret provided\./);
    assert.deepEqual(body.error_codes, [7000215]);
    await assert.rejects(
      credentialFor(emulator, 'not-the-secret').getToken(managementScope),
      /AADSTS7000215/,
    );
  });

  void it('answers bad grants, scopes and tenants with Entra ID’s own errors', async () => {
    const tokenUrl = `${emulator.url}/${emulator.principal.tenantId}/oauth2/v2.0/token`;
    const post = (fields: Record<string, string>, url = tokenUrl) =>
      call(agent, url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      });
    const base = {
      grant_type: 'client_credentials',
      client_id: emulator.principal.clientId,
      client_secret: emulator.principal.clientSecret,
    };
    const noDefault = await post({ ...base, scope: 'https://management.azure.com/user_impersonation' });
    assert.equal(noDefault.status, 400);
    assert.match((noDefault.json as { error_description: string }).error_description, /^AADSTS1002012/);
    const unknownResource = await post({ ...base, scope: 'https://vault.azure.net/.default' });
    assert.equal((unknownResource.json as { error: string }).error, 'invalid_resource');
    const password = await post({ ...base, grant_type: 'password', scope: managementScope });
    assert.equal((password.json as { error: string }).error, 'unsupported_grant_type');
    const otherTenant = await post(
      { ...base, scope: managementScope },
      `${emulator.url}/contoso.onmicrosoft.com/oauth2/v2.0/token`,
    );
    assert.match((otherTenant.json as { error_description: string }).error_description, /^AADSTS90002/);
    const iotHub = await post({ ...base, scope: iotHubScope });
    assert.equal(iotHub.status, 200);
    assert.equal((iotHub.json as { expires_in: number }).expires_in, 900);
  });

  void it('gives a token to a child process that trusts the CA through NODE_EXTRA_CA_CERTS', async () => {
    const script = `
      const { ClientSecretCredential } = require('@azure/identity');
      const credential = new ClientSecretCredential(process.env.AZURE_TENANT_ID, process.env.AZURE_CLIENT_ID,
        process.env.AZURE_CLIENT_SECRET, { authorityHost: process.env.AZURE_AUTHORITY_HOST, disableInstanceDiscovery: true });
      credential.getToken('${iotHubScope}').then((token) => console.log(JSON.stringify({ token: token.token })),
        (error) => { console.error(error.message); process.exit(1); });`;
    const output = await runNode(['-e', script], { ...process.env, ...emulator.env });
    assert.equal(output.code, 0, output.stderr);
    const { token } = JSON.parse(output.stdout) as { token: string };
    assert.ok(emulator.issuedTokens().includes(token));
  });
});

function runNode(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env,
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
