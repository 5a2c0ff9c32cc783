/**
 * The HTTP plumbing every Azure call of this layer goes through: undici with one shared keep-alive
 * Agent, per-request timeouts, the caller's abort signal, the bearer token from a TokenProvider, and
 * one in-call retry after a 401 with a new token (as Azure's bearer-token policy does for CAE challenges).
 */
import { createSecureContext } from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
import type { HeaderBag } from './throttling';
import { FailureType } from '../domain/failure-codes';
import { classifyAzureError, type AzureRequestError, type ClassifyContext } from './errors';
import type { TokenProvider } from './token-provider';

export interface AzureAgentOptions {
  /** Extra CA certificates (PEM) to trust, e.g. the emulator's. Default: Node's (NODE_EXTRA_CA_CERTS included). */
  ca?: string | string[];
  /** Connections per origin. @default 64 */
  connections?: number;
  /** Idle keep-alive. @default 30000 */
  keepAliveTimeoutInMs?: number;
  /** TCP+TLS connect timeout. @default 10000 */
  connectTimeoutInMs?: number;
}

/** One per worker: keep-alive connections shared by every activity. */
export function createAzureAgent(options: AzureAgentOptions = {}): Agent {
  return new Agent({
    connections: options.connections ?? 64,
    keepAliveTimeout: options.keepAliveTimeoutInMs ?? 30_000,
    keepAliveMaxTimeout: 600_000,
    connect: {
      timeout: options.connectTimeoutInMs ?? 10_000,
      // One TLS context for every connection. Without it, Node builds one per connection from the options (the
      // CA store parsed each time): when a propagation storm ends, dozens of connections open at once.
      secureContext: createSecureContext(options.ca === undefined ? {} : { ca: options.ca }),
    },
  });
}

export interface HttpRequest {
  method: 'GET' | 'PUT' | 'PATCH' | 'POST' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** Serialized as JSON. */
  json?: unknown;
  abortSignal?: AbortSignal;
  /** Whole request, headers and body. Falls back to the client's default. */
  timeoutInMs?: number;
}

export interface HttpResponse {
  statusCode: number;
  headers: HeaderBag;
  /** Parsed JSON when the body is JSON, else the text ('' when empty). */
  body: unknown;
}

export interface HttpClientOptions {
  /** @default a new keep-alive Agent (createAzureAgent) */
  dispatcher?: Dispatcher;
  /** @default 30000 */
  requestTimeoutInMs?: number;
  /** @default 'iot-policy-sync' */
  userAgent?: string;
}

/** Thin wrapper over undici's `request`. Network errors and timeouts are thrown as they are; cancellation rethrows the signal's reason. */
export class HttpClient {
  readonly dispatcher: Dispatcher;
  private readonly timeoutInMs: number;
  private readonly userAgent: string;

  constructor(options: HttpClientOptions = {}) {
    this.dispatcher = options.dispatcher ?? createAzureAgent();
    this.timeoutInMs = options.requestTimeoutInMs ?? 30_000;
    this.userAgent = options.userAgent ?? 'iot-policy-sync';
  }

  async send(req: HttpRequest): Promise<HttpResponse> {
    const timeoutInMs = req.timeoutInMs ?? this.timeoutInMs;
    const timeout = AbortSignal.timeout(timeoutInMs);
    const signal = req.abortSignal ? AbortSignal.any([req.abortSignal, timeout]) : timeout;
    const headers: Record<string, string> = {
      'user-agent': this.userAgent,
      accept: 'application/json',
      ...(req.headers ?? {}),
    };
    let body: string | undefined;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] = 'application/json; charset=utf-8';
    }
    try {
      const response = await request(req.url, {
        method: req.method,
        headers,
        ...(body === undefined ? {} : { body }),
        signal,
        dispatcher: this.dispatcher,
        headersTimeout: timeoutInMs,
        bodyTimeout: timeoutInMs,
      });
      const text = await response.body.text();
      return { statusCode: response.statusCode, headers: response.headers, body: parseBody(text) };
    } catch (error) {
      if (req.abortSignal?.aborted) throw req.abortSignal.reason;
      if (timeout.aborted) {
        throw Object.assign(new Error(`timed out after ${timeoutInMs} ms`), {
          name: 'TimeoutError',
          cause: error,
        });
      }
      throw error;
    }
  }
}

function parseBody(text: string): unknown {
  if (text === '') return '';
  const first = text.trimStart()[0];
  if (first !== '{' && first !== '[') return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export interface AuthorizedResponse extends HttpResponse {
  /** The token the final request carried, so a 403 can invalidate exactly it. */
  token: string;
}

/**
 * Sends with `Authorization: Bearer`. A 401 invalidates the token (with the challenge's claims) and
 * repeats the request once with a new one. Network failures become AzureRequestErrors; other statuses
 * are returned for the caller to judge.
 */
export async function sendAuthorized(
  http: HttpClient,
  tokens: TokenProvider,
  req: HttpRequest,
  context: ClassifyContext,
  options: { tokenIssuedAfterInMs?: number } = {},
): Promise<AuthorizedResponse> {
  for (let attempt = 1; ; attempt++) {
    let token: string;
    let response: HttpResponse;
    try {
      token = await tokens.getToken({
        ...(req.abortSignal ? { abortSignal: req.abortSignal } : {}),
        ...(options.tokenIssuedAfterInMs === undefined
          ? {}
          : { issuedAfterInMs: options.tokenIssuedAfterInMs }),
      });
      response = await http.send({
        ...req,
        headers: { ...(req.headers ?? {}), authorization: `Bearer ${token}` },
      });
    } catch (error) {
      if (req.abortSignal?.aborted) throw req.abortSignal.reason;
      throw classifyAzureError({ error }, context);
    }
    if (response.statusCode === 401 && attempt === 1) {
      const challenge = classifyAzureError(response, context);
      // A permission refusal (IoT Hub's 401 IotHubUnauthorized) is the caller's to judge, like a 403.
      if (challenge.code !== FailureType.Unauthorized) return { ...response, token };
      tokens.invalidate(token, challenge.claims === undefined ? {} : { claims: challenge.claims });
      continue;
    }
    return { ...response, token };
  }
}

/**
 * The error for a refused answer of sendAuthorized. A refusal of the token itself (401) retires that token, so
 * the next request carries a new one; a permission refusal (403 while a role assignment propagates) marks it, so
 * the request's next try asks for a token issued after the refusal (`tokenIssuedAfterInMs`); a refusal a new
 * token cannot change (an Azure Policy deny, a lock, a wrong tenant) leaves the cache alone.
 */
export function refusalOf(
  response: AuthorizedResponse,
  context: ClassifyContext,
  tokens: TokenProvider,
): AzureRequestError {
  const error = classifyAzureError(response, context);
  if (error.code === FailureType.AuthorizationFailed) {
    tokens.invalidate(response.token, { permissionRefused: true });
  } else if (error.code === FailureType.Unauthorized) {
    tokens.invalidate(response.token, error.claims === undefined ? {} : { claims: error.claims });
  }
  return error;
}
