import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { handleArm } from './arm';
import { handleEntraId } from './entra-id';
import type { TransientOutcome } from './fault-injector';
import type { EmulatorRequest, EmulatorResponse, RequestNote } from './http';
import { handleIntrospection, type IntrospectionControls } from './introspection';
import { handleIotHub } from './iot-hub';
import type { EmulatorWorld } from './world';

/** Requests larger than this are refused before any surface sees them. */
const maxRequestBytes = 1024 * 1024;

type SurfaceName = 'introspection' | 'entraId' | 'arm' | 'iotHub' | 'unknown';

export function createHttpsServer(keyPem: string, certPem: string): Server {
  const server = createServer({ key: keyPem, cert: certPem, keepAlive: true });
  server.keepAliveTimeout = 10_000;
  // Garbage on the wire gets a 400 and a closed connection; the server keeps serving.
  server.on('clientError', (error, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify({
      error: { code: 'BadRequest', message: `Malformed HTTP request: ${error.message}` },
    });
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
  return server;
}

/** Listens on `host` (e.g. 127.0.0.1, or 0.0.0.0 in a container) and resolves with the port it got. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/**
 * The request pipeline: read the body, pick the surface from the path, decide the faults at arrival (so that
 * decisions follow arrival order), wait out the latency, answer, log.
 */
export function createRequestListener(
  world: EmulatorWorld,
  controls: IntrospectionControls,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    serve(req, res, world, controls).catch((error: unknown) => {
      // A client that went away mid-request leaves nobody to answer.
      if (req.socket.destroyed) return;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      send(res, { status: 500, body: { error: { code: 'InternalServerError', message: String(error) } } });
    });
  };
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  world: EmulatorWorld,
  controls: IntrospectionControls,
): Promise<void> {
  const requestId = randomUUID();
  const method = (req.method ?? 'GET').toUpperCase();
  const note: RequestNote = {};
  const finish = (path: string, status: number): void => {
    world.journal.add({ at: new Date(world.now()).toISOString(), method, path, status, ...note });
  };
  const parsed = parseTarget(req.url ?? '/');
  const body = await readBody(req);
  if (!parsed || body === 'too-large') {
    const status = parsed ? 413 : 400;
    const code = parsed ? 'RequestEntityTooLarge' : 'InvalidUri';
    note.code = code;
    const message = parsed
      ? `Request bodies are limited to ${maxRequestBytes} bytes.`
      : 'The request URI is not valid.';
    send(res, {
      status,
      headers: { 'x-ms-request-id': requestId, connection: 'close' },
      body: { error: { code, message } },
    });
    finish(parsed?.path ?? String(req.url), status);
    return;
  }
  const request: EmulatorRequest = { method, ...parsed, headers: req.headers, body, requestId, note };
  const surface = surfaceOf(request.segments);
  if (surface === 'introspection') {
    send(res, handleIntrospection(request, controls));
    return;
  }
  const latencyMs = world.faults.latencyMs();
  const transient: TransientOutcome | undefined =
    surface === 'arm' || surface === 'iotHub' ? world.faults.transientOutcome(surface) : undefined;
  if (latencyMs > 0) await sleep(latencyMs);
  if (transient === 'drop') {
    world.faults.counters.dropped++;
    note.code = 'ConnectionDropped';
    finish(request.path, 0);
    req.socket.destroy();
    return;
  }
  const response = respond(surface, request, world, transient);
  send(res, response);
  finish(request.path, response.status);
}

function respond(
  surface: Exclude<SurfaceName, 'introspection'>,
  request: EmulatorRequest,
  world: EmulatorWorld,
  transient: TransientOutcome | undefined,
): EmulatorResponse {
  switch (surface) {
    case 'arm':
      return handleArm(request, world, transient);
    case 'iotHub':
      return handleIotHub(request, world, transient);
    case 'entraId':
      return handleEntraId(request, world);
    case 'unknown':
      request.note.code = 'NotFound';
      return {
        status: 404,
        headers: { 'x-ms-request-id': request.requestId },
        body: {
          error: {
            code: 'NotFound',
            message: `The emulator does not serve ${request.method} ${request.path}.`,
          },
        },
      };
  }
}

function surfaceOf(segments: readonly string[]): SurfaceName {
  const first = segments[0]?.toLowerCase();
  if (first === '_emulator') return 'introspection';
  if (first === 'subscriptions' || first === 'providers') return 'arm';
  if (first === 'twins' || first === 'devices') return 'iotHub';
  const second = segments[1]?.toLowerCase() ?? '';
  if (['v2.0', 'oauth2', 'discovery', '.well-known'].includes(second)) return 'entraId';
  return 'unknown';
}

/** Splits the request target by hand: `new URL` would read a leading `//subscriptions/…` as a host. */
function parseTarget(rawUrl: string): Pick<EmulatorRequest, 'path' | 'segments' | 'query'> | undefined {
  try {
    const target = /^https?:\/\//i.test(rawUrl) ? rawUrl.replace(/^https?:\/\/[^/?#]*/i, '') : rawUrl;
    const queryStart = target.indexOf('?');
    const path = (queryStart >= 0 ? target.slice(0, queryStart) : target).replace(/#.*$/, '') || '/';
    const query = new URLSearchParams(
      queryStart >= 0 ? target.slice(queryStart + 1).replace(/#.*$/, '') : '',
    );
    const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
    return { path, segments, query };
  } catch {
    return undefined;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > maxRequestBytes) tooLarge = true;
    if (!tooLarge) chunks.push(buffer);
  }
  return tooLarge ? 'too-large' : Buffer.concat(chunks);
}

function send(res: ServerResponse, response: EmulatorResponse): void {
  const headers: Record<string, string> = { ...response.headers };
  let payload: Buffer | undefined;
  if (response.body !== undefined && response.status !== 204) {
    payload = Buffer.from(JSON.stringify(response.body));
    headers['content-type'] = 'application/json; charset=utf-8';
    headers['content-length'] = String(payload.length);
  } else {
    headers['content-length'] = '0';
  }
  res.writeHead(response.status, headers);
  res.end(payload);
}
