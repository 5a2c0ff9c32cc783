/**
 * hubName, host and publicHost: one hub per test on a shared Temporal server, and the emulator as a compose
 * service reached by another name than 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { describe, it } from 'node:test';
import { Agent } from 'undici';
import { startEmulator } from '../../src/emulator';
import { subjectAltNames } from '../../src/emulator/certificates';
import { call, errorCode, fetchToken, managementScope, policyUrl, withEmulator } from './helpers';

/** The server's leaf certificate, as presented on the wire. */
async function peerCertificate(port: number, ca: string, servername: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      resolve(new X509Certificate(raw));
    });
    socket.once('error', reject);
  });
}

void describe('emulator hubName', () => {
  void it('names the hub in IOT_HUB_NAME, its scope and the ARM paths it serves', async () => {
    await withEmulator({ devices: 3, hubName: 'hub-test-42' }, async (emulator, agent) => {
      assert.equal(emulator.hub.name, 'hub-test-42');
      assert.equal(emulator.env['IOT_HUB_NAME'], 'hub-test-42');
      assert.equal(
        emulator.hub.scope,
        `/subscriptions/${emulator.hub.subscriptionId}/resourceGroups/rg-iot/providers/Microsoft.Devices/IotHubs/hub-test-42`,
      );
      assert.equal(
        emulator.state().roleAssignments[0]?.scope,
        emulator.hub.scope,
        'the start grant is on it',
      );

      const token = await fetchToken(agent, emulator, managementScope);
      const put = await call(agent, policyUrl(emulator, 'device-0001'), {
        method: 'PUT',
        token,
        body: { version: 1 },
      });
      assert.equal(put.status, 201, put.text);
      assert.equal((put.json as { id: string }).id, `${emulator.hub.scope}/securityPolicies/device-0001`);
      assert.deepEqual(emulator.state().devices['device-0001']?.policy, { version: 1 });

      // The default hub's path is another resource, which this emulator does not have.
      const other = await call(
        agent,
        `${emulator.url}${emulator.hub.scope.replace('hub-test-42', 'hub-emulated')}/securityPolicies/device-0001?api-version=2021-07-01`,
        { token },
      );
      assert.equal(other.status, 404);
      assert.equal(errorCode(other), 'ResourceNotFound');
    });
  });

  void it('defaults to hub-emulated and refuses names that are not 3-50 letters, digits and hyphens', async () => {
    await withEmulator({ devices: 0 }, async (emulator) => {
      assert.equal(emulator.env['IOT_HUB_NAME'], 'hub-emulated');
      assert.match(emulator.hub.scope, /\/IotHubs\/hub-emulated$/);
    });
    for (const hubName of ['hb', 'x'.repeat(51), 'hub_underscore', 'hub/slash', ''])
      await assert.rejects(startEmulator({ devices: 0, hubName }), /hubName must be 3–50/, hubName);
  });
});

void describe('emulator host and publicHost', () => {
  void it('publicHost localhost: url, env and issuer use it, and https://localhost:PORT verifies against the CA', async () => {
    const emulator = await startEmulator({ devices: 2, publicHost: 'localhost' });
    const agent = new Agent({ connect: { ca: emulator.caPem } });
    try {
      const base = `https://localhost:${emulator.port}`;
      assert.equal(emulator.url, base);
      assert.equal(emulator.env['AZURE_AUTHORITY_HOST'], base);
      assert.equal(emulator.env['ARM_ENDPOINT'], base);
      assert.equal(emulator.env['IOT_HUB_HOST'], `localhost:${emulator.port}`);

      // Strict verification by name: undici checks the certificate against the host in the URL.
      const config = await call(
        agent,
        `${base}/${emulator.principal.tenantId}/v2.0/.well-known/openid-configuration`,
      );
      assert.equal(config.status, 200, config.text);
      const { issuer, token_endpoint } = config.json as { issuer: string; token_endpoint: string };
      assert.equal(issuer, `${base}/${emulator.principal.tenantId}/v2.0`);
      assert.ok(token_endpoint.startsWith(`${base}/`), token_endpoint);
      const token = await fetchToken(agent, emulator, managementScope);
      assert.equal(typeof token, 'string');

      const leaf = await peerCertificate(emulator.port, emulator.caPem, 'localhost');
      assert.ok(leaf.checkHost('localhost'), leaf.subjectAltName);
      assert.ok(leaf.checkIP('127.0.0.1'), leaf.subjectAltName);
      assert.ok(leaf.verify(new X509Certificate(emulator.caPem).publicKey), 'signed by the emulator CA');
    } finally {
      await agent.close();
      await emulator.close();
    }
  });

  void it('puts another publicHost in the certificate beside localhost and 127.0.0.1', async () => {
    await withEmulator({ devices: 0, publicHost: 'emulator' }, async (emulator) => {
      assert.equal(emulator.url, `https://emulator:${emulator.port}`);
      assert.equal(emulator.env['IOT_HUB_HOST'], `emulator:${emulator.port}`);
      const leaf = await peerCertificate(emulator.port, emulator.caPem, 'emulator');
      assert.ok(leaf.checkHost('emulator'), leaf.subjectAltName);
      assert.ok(leaf.checkHost('localhost'), leaf.subjectAltName);
      assert.ok(leaf.checkIP('127.0.0.1'), leaf.subjectAltName);
      assert.equal(leaf.checkHost('elsewhere'), undefined);
    });
  });

  void it('an IP publicHost becomes an iPAddress SAN (IPv6 in brackets in the URL), a name a dNSName', async () => {
    await withEmulator({ devices: 0, publicHost: '::1' }, (emulator) => {
      assert.equal(emulator.url, `https://[::1]:${emulator.port}`);
      assert.equal(emulator.env['IOT_HUB_HOST'], `[::1]:${emulator.port}`);
      return Promise.resolve();
    });
    assert.deepEqual(subjectAltNames(['10.1.2.3', 'Emulator', 'localhost', '::1']), [
      { type: 2, value: 'localhost' },
      { type: 7, ip: '127.0.0.1' },
      { type: 7, ip: '10.1.2.3' },
      { type: 2, value: 'emulator' },
      { type: 7, ip: '::1' },
    ]);
  });

  void it('listens on host: 0.0.0.0 is reachable on 127.0.0.1; bad names are refused', async () => {
    await withEmulator({ devices: 0, host: '0.0.0.0' }, async (emulator, agent) => {
      assert.equal(emulator.url, `https://127.0.0.1:${emulator.port}`);
      const state = await call(agent, `${emulator.url}/_emulator/state`);
      assert.equal(state.status, 200);
    });
    await assert.rejects(startEmulator({ devices: 0, publicHost: 'https://emulator' }), /publicHost must be/);
    await assert.rejects(startEmulator({ devices: 0, host: 'not a host' }), /host must be/);
  });
});
