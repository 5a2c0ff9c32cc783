import type { IncomingHttpHeaders } from 'node:http';

/** What a request left in the request log besides method, path and status. */
export interface RequestNote {
  principal?: string;
  audience?: string;
  /** The bearer token presented, verbatim. */
  token?: string;
  deviceId?: string;
  /** The error code answered, or the fault injected. */
  code?: string;
}

/** A request as the surfaces see it: body already read, path already split. */
export interface EmulatorRequest {
  readonly method: string;
  readonly path: string;
  /** Decoded, non-empty path segments (`//` collapses, as ARM tolerates). */
  readonly segments: readonly string[];
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly requestId: string;
  /** Filled in by the surface as it learns who is calling and about what. */
  readonly note: RequestNote;
}

export interface EmulatorResponse {
  status: number;
  headers?: Record<string, string>;
  /** Sent as JSON; nothing is sent when undefined. */
  body?: unknown;
}

/** Thrown by a surface to answer with an error in that surface's own shape (ARM, IoT Hub or Entra ID). */
export class EmulatorHttpError extends Error {
  override readonly name = 'EmulatorHttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function header(request: EmulatorRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Parses the body as JSON; `undefined` when it is not JSON. An empty body is `undefined` too. */
export function parseJsonBody(request: EmulatorRequest): { ok: true; value: unknown } | { ok: false } {
  if (request.body.length === 0) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(request.body.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}
