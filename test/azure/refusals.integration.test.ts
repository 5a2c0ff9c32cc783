/**
 * Answers real Azure gives that the emulator's profiles do not: a principal that may not read role
 * assignments, a throttled device query, an Azure Policy deny, an ARM envelope with provisioningState. A
 * thin HttpClient in front of the real one answers those requests as Azure would and passes the rest on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ArmPolicyWriter } from '../../src/azure/arm-policy-writer';
import { isAzureRequestError } from '../../src/azure/errors';
import { HttpClient, type HttpRequest, type HttpResponse } from '../../src/azure/http';
import { checkRolePropagation } from '../../src/azure/preflight';
import { queryHubDevices } from '../../src/inventory/hub-source';
import { FailureType } from '../../src/domain/failure-codes';
import { startTestWorld, type TestWorld } from './emulator-support';

type Answer = (req: HttpRequest, seen: number) => HttpResponse | undefined;

/** Sends through `inner` unless `answer` gives Azure's reply for the request (`seen`: earlier matches). */
class AnsweringHttpClient extends HttpClient {
  readonly sent: HttpRequest[] = [];
  private readonly seen = new Map<string, number>();
  constructor(
    private readonly inner: HttpClient,
    private readonly answer: Answer,
  ) {
    super({ dispatcher: inner.dispatcher });
  }
  override async send(req: HttpRequest): Promise<HttpResponse> {
    this.sent.push(req);
    const key = `${req.method} ${new URL(req.url).pathname}`;
    const seen = this.seen.get(key) ?? 0;
    this.seen.set(key, seen + 1);
    return this.answer(req, seen) ?? this.inner.send(req);
  }
}

const armError = (statusCode: number, code: string, message: string): HttpResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json; charset=utf-8' },
  body: { error: { code, message } },
});

void describe('answers of real Azure the emulator does not give', () => {
  let world: TestWorld;
  before(async () => {
    world = await startTestWorld({ devices: 250, profile: 'calm' });
  });
  after(async () => {
    await world.close();
  });

  void it('preflight: a principal that may not list role assignments is still granted, its roles unknown, its token kept', async () => {
    const http = new AnsweringHttpClient(world.azure.http, (req) =>
      req.url.includes('/roleAssignments')
        ? armError(
            403,
            'AuthorizationFailed',
            "The client does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/read'.",
          )
        : undefined,
    );
    const forcedBefore = world.azure.armTokens.stats().forcedRefreshes;
    const report = await checkRolePropagation({ ...world.azure.rolePropagation, http }, 'arm');
    assert.equal(report.granted, true);
    assert.deepEqual(report.missing, []);
    assert.deepEqual(report.rolesAssigned, []);
    assert.equal(report.rolesUnreadable, true, 'the report says the roles could not be read');
    assert.ok(
      http.sent.some((req) => req.url.includes('/roleAssignments')),
      'the listing was tried',
    );
    assert.equal(world.azure.armTokens.stats().forcedRefreshes, forcedBefore, 'no token was retired');
  });

  void it('the hub device query asks a throttled or failed page again with its continuation, and reads every device', async () => {
    // Page 2 is throttled once (IoT Hub: 20 queries a minute per unit), page 3 fails once with a 503.
    const http = new AnsweringHttpClient(world.azure.http, (req, seen) => {
      if (!req.url.includes('/devices/query')) return undefined;
      if (seen === 1)
        return {
          statusCode: 429,
          headers: { 'retry-after': '1' },
          body: { Message: 'ErrorCode:ThrottlingException;' },
        };
      if (seen === 3) return { statusCode: 503, headers: {}, body: '' };
      return undefined;
    });
    const rows = [];
    for await (const row of queryHubDevices({
      http,
      tokens: world.azure.iotHubTokens,
      hubHost: world.config.hub.host,
      pageSize: 100,
      pageRetryDelayInMs: 50,
    })) {
      rows.push(row);
    }
    assert.equal(rows.length, 250);
    assert.equal(new Set(rows.map((r) => r.deviceId)).size, 250, 'no device twice');
    const continuations = http.sent.map((req) => req.headers?.['x-ms-continuation'] ?? '(first)');
    assert.equal(continuations.length, 5);
    assert.equal(continuations[0], '(first)');
    assert.equal(continuations[1], continuations[2], 'the throttled page was asked again as it was');
    assert.notEqual(continuations[2], '(first)');
    assert.equal(continuations[3], continuations[4], 'so was the failed one');
  });

  void it('the device query gives up on a page after its retries, with the reason', async () => {
    const http = new AnsweringHttpClient(world.azure.http, (req) =>
      req.url.includes('/devices/query') ? { statusCode: 429, headers: {}, body: '' } : undefined,
    );
    const rows = queryHubDevices({
      http,
      tokens: world.azure.iotHubTokens,
      hubHost: world.config.hub.host,
      pageRetries: 2,
      pageRetryDelayInMs: 10,
    });
    await assert.rejects(
      async () => {
        for await (const _ of rows);
      },
      (error: unknown) => isAzureRequestError(error) && error.code === FailureType.Throttled,
    );
    assert.equal(http.sent.length, 3);
  });

  void it('an Azure Policy deny or a lock is not retried as propagation and keeps the token; after a 403 AuthorizationFailed the retry gets a new one', async () => {
    let refusal: HttpResponse = armError(
      403,
      'RequestDisallowedByPolicy',
      "Resource was disallowed by policy 'deny-writes'.",
    );
    const http = new AnsweringHttpClient(world.azure.http, (req) =>
      req.method === 'PUT' ? refusal : undefined,
    );
    const writer = new ArmPolicyWriter({
      http,
      tokens: world.azure.armTokens,
      armEndpoint: world.config.azure.armEndpoint,
      hubScope: world.emulator.hub.scope,
    });
    const write = () => writer.writePolicy({ deviceId: 'device-0001', document: { v: Math.random() } });
    const token = await world.azure.armTokens.getToken();

    for (const [status, code] of [
      [403, 'RequestDisallowedByPolicy'],
      [409, 'ScopeLocked'],
    ] as const) {
      refusal = armError(status, code, 'refused');
      await assert.rejects(write, (error: unknown) => {
        assert.ok(isAzureRequestError(error));
        assert.equal(error.code, FailureType.Misconfigured, `${code}: ${error.message}`);
        assert.match(error.message, /Not retried/);
        return true;
      });
      assert.equal(await world.azure.armTokens.getToken(), token, `${code}: the token is kept`);
    }

    refusal = armError(403, 'AuthorizationFailed', 'not yet');
    await assert.rejects(
      write,
      (error: unknown) => isAzureRequestError(error) && error.code === FailureType.AuthorizationFailed,
    );
    const refusedAt = Date.now();
    assert.notEqual(
      await world.azure.armTokens.getToken({ issuedAfterInMs: refusedAt }),
      token,
      'the next try after a 403 AuthorizationFailed carries a new token',
    );
  });

  void it('an ARM envelope with provisioningState and systemData around the stored policy counts as unchanged', async () => {
    const document = { minTlsVersion: '1.2', ports: [443] };
    const http = new AnsweringHttpClient(world.azure.http, (req) =>
      req.method === 'GET'
        ? {
            statusCode: 200,
            headers: {},
            body: {
              name: 'device-0002',
              type: 'Microsoft.Devices/IotHubs/securityPolicies',
              properties: { ...document, provisioningState: 'Succeeded' },
              systemData: { lastModifiedAt: '2026-11-29T00:00:00Z' },
            },
          }
        : undefined,
    );
    const writer = new ArmPolicyWriter({
      http,
      tokens: world.azure.armTokens,
      armEndpoint: world.config.azure.armEndpoint,
      hubScope: world.emulator.hub.scope,
    });
    assert.deepEqual(await writer.writePolicy({ deviceId: 'device-0002', document }), {
      status: 'unchanged',
    });
    assert.equal(http.sent.filter((req) => req.method === 'PUT').length, 0);
    // A policy whose provisioning failed is not in place: written again.
    const failed = new AnsweringHttpClient(world.azure.http, (req) =>
      req.method === 'GET'
        ? {
            statusCode: 200,
            headers: {},
            body: {
              id: `${world.emulator.hub.scope}/securityPolicies/device-0002`,
              properties: { ...document, provisioningState: 'Failed' },
            },
          }
        : undefined,
    );
    const rewriter = new ArmPolicyWriter({
      http: failed,
      tokens: world.azure.armTokens,
      armEndpoint: world.config.azure.armEndpoint,
      hubScope: world.emulator.hub.scope,
    });
    assert.deepEqual(await rewriter.writePolicy({ deviceId: 'device-0002', document }), {
      status: 'succeeded',
    });
    // A document in ARM's resource form, read back as ARM's standard envelope: compared like with like.
    const resourceForm = { properties: document, tags: { owner: 'ops' } };
    const standard = new AnsweringHttpClient(world.azure.http, (req) =>
      req.method === 'GET'
        ? {
            statusCode: 200,
            headers: {},
            body: {
              id: `${world.emulator.hub.scope}/securityPolicies/device-0002`,
              name: 'device-0002',
              type: 'Microsoft.Devices/IotHubs/securityPolicies',
              etag: 'W/"0x8DCA"',
              tags: { owner: 'ops' },
              properties: { ...document, provisioningState: 'Succeeded' },
              systemData: {
                createdBy: 'c2c2c2c2-0000-4000-8000-000000000000',
                createdByType: 'Application',
                createdAt: '2026-11-29T00:00:00Z',
                lastModifiedAt: '2026-11-29T00:00:00Z',
              },
            },
          }
        : undefined,
    );
    const standardWriter = new ArmPolicyWriter({
      http: standard,
      tokens: world.azure.armTokens,
      armEndpoint: world.config.azure.armEndpoint,
      hubScope: world.emulator.hub.scope,
    });
    assert.deepEqual(await standardWriter.writePolicy({ deviceId: 'device-0002', document: resourceForm }), {
      status: 'unchanged',
    });
    assert.deepEqual(await standardWriter.writePolicy({ deviceId: 'device-0002', document }), {
      status: 'unchanged',
    });
    assert.equal(standard.sent.filter((req) => req.method === 'PUT').length, 0);
    // A different document is written.
    assert.deepEqual(
      await writer.writePolicy({ deviceId: 'device-0002', document: { minTlsVersion: '1.3' } }),
      {
        status: 'succeeded',
      },
    );
  });
});
