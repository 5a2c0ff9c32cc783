/**
 * Shared by the emulator tests: raw HTTP through undici. How each kind of client trusts the emulator's CA:
 * - undici (in-process): `new Agent({ connect: { ca: emulator.caPem } })` as the dispatcher.
 * - the Azure SDK (in-process): see sdk-clients.ts.
 * - any child process: `NODE_EXTRA_CA_CERTS=emulator.caBundlePath` in its environment (read at start only).
 */
import { Agent, request, type Dispatcher } from 'undici';
import assert from 'node:assert/strict';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator';

export const managementScope = 'https://management.azure.com/.default';
export const iotHubScope = 'https://iothubs.azure.net/.default';
export const policyApiVersion = '2021-07-01';
export const authorizationApiVersion = '2022-04-01';
export const twinApiVersion = '2021-04-12';

export interface HttpResult {
  status: number;
  headers: Record<string, string>;
  text: string;
  json: unknown;
}

/** A few keep-alive connections carry bursts of hundreds of calls without a TLS handshake each. */
export function trustingAgent(emulator: Emulator): Agent {
  return new Agent({ connect: { ca: emulator.caPem }, connections: 24 });
}

/** One HTTP call; the body is sent as JSON unless it is already a string. */
export async function call(
  dispatcher: Dispatcher,
  url: string,
  init: {
    method?: Dispatcher.HttpMethod;
    token?: string;
    body?: unknown;
    headers?: Record<string, string>;
  } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers['authorization'] = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await request(url, { dispatcher, method: init.method ?? 'GET', headers, body });
  const text = await response.body.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return { status: response.statusCode, headers: flat, text, json };
}

/** A token straight from the token endpoint, as any OAuth client would ask for it. */
export async function fetchToken(dispatcher: Dispatcher, emulator: Emulator, scope: string): Promise<string> {
  const result = await call(dispatcher, `${emulator.url}/${emulator.principal.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: emulator.principal.clientId,
      client_secret: emulator.principal.clientSecret,
      scope,
    }).toString(),
  });
  const token = (result.json as { access_token?: unknown } | undefined)?.access_token;
  if (result.status !== 200 || typeof token !== 'string')
    throw new Error(`token request failed: ${result.status} ${result.text}`);
  return token;
}

export function policyUrl(emulator: Emulator, deviceId: string, apiVersion = policyApiVersion): string {
  return `${emulator.url}${emulator.hub.scope}/securityPolicies/${deviceId}?api-version=${apiVersion}`;
}

export function twinUrl(emulator: Emulator, deviceId: string): string {
  return `${emulator.url}/twins/${deviceId}?api-version=${twinApiVersion}`;
}

export function permissionsUrl(emulator: Emulator, scope = emulator.hub.scope): string {
  return `${emulator.url}${scope}/providers/Microsoft.Authorization/permissions?api-version=${authorizationApiVersion}`;
}

export function errorCode(result: HttpResult): string | undefined {
  const body = result.json as { error?: { code?: string }; Message?: string } | undefined;
  return body?.error?.code ?? /^ErrorCode:([^;]+);/.exec(body?.Message ?? '')?.[1];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A call whose dropped connection shows as status 0 instead of a thrown error. */
export type Outcome = HttpResult | { status: 0; headers: Record<string, string>; text: ''; json: undefined };

export async function attempt(run: () => Promise<HttpResult>): Promise<Outcome> {
  try {
    return await run();
  } catch {
    return { status: 0, headers: {}, text: '', json: undefined };
  }
}

/** Runs `body` against a fresh emulator (300 devices unless told) and a trusting agent, then closes both. */
export async function withEmulator(
  options: EmulatorOptions,
  body: (emulator: Emulator, agent: Agent) => Promise<void>,
): Promise<void> {
  const emulator = await startEmulator({ devices: 300, ...options });
  const agent = trustingAgent(emulator);
  try {
    await body(emulator, agent);
  } finally {
    await agent.close();
    await emulator.close();
  }
}

/** Milliseconds until the start grant has appeared (plus a margin). */
export function untilGrantVisible(emulator: Emulator, delayMs: number): number {
  const createdOn = emulator.state().roleAssignments[0]?.createdOn;
  assert.ok(createdOn, 'the start grant exists');
  return Math.max(0, Date.parse(createdOn) + delayMs + 50 - Date.now());
}
