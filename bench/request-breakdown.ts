/**
 * Every request the emulator answered during a side, by kind. The emulator logs each request it serves on
 * its Entra ID, ARM and IoT Hub surfaces once the response is sent (or the connection is dropped), refusals
 * included (src/emulator/server.ts); only its own control endpoints (/_emulator/…, which the benchmark calls
 * in-process anyway) and requests too malformed to parse as HTTP stay out of the log.
 */

/** token + discovery: Entra ID (token grant, OpenID metadata, instance discovery, keys). */
export type RequestKind = 'tokenAndDiscovery' | 'permissionChecks' | 'reads' | 'writes' | 'other';

export interface RequestBreakdown {
  /** Requests answered (every status) plus connections dropped: the emulator's own counts, never truncated. */
  total: number;
  tokenAndDiscovery: number;
  /** Microsoft.Authorization: permissions, roleAssignments, roleDefinitions. */
  permissionChecks: number;
  /** GETs of policies and twins, ARM list pages, IoT Hub device queries. */
  reads: number;
  /** Policy writes: PUT of a securityPolicy, PATCH of a twin. */
  writes: number;
  /** Anything else (paths the emulator does not serve, deletes). */
  other: number;
  /** 403s among all of them, every kind. */
  status403: number;
  /** Records in the request log, which keeps the last 100,000: when below `total`, the kinds are partial. */
  logged: number;
}

const ENTRA_SECOND_SEGMENTS = new Set(['v2.0', 'oauth2', 'discovery', '.well-known']);

/** The kind of one request, by method and path (the emulator's own routing rules). */
export function requestKind(record: { method: string; path: string }): RequestKind {
  const segments = record.path.toLowerCase().split('/').filter(Boolean);
  const first = segments[0] ?? '';
  const method = record.method.toUpperCase();
  if (first === 'subscriptions' || first === 'providers') {
    if (segments.includes('microsoft.authorization')) return 'permissionChecks';
    if (!segments.includes('securitypolicies')) return 'other';
    if (method === 'PUT') return 'writes';
    return method === 'GET' ? 'reads' : 'other';
  }
  if (first === 'twins') {
    if (method === 'PATCH' || method === 'PUT') return 'writes';
    return method === 'GET' ? 'reads' : 'other';
  }
  if (first === 'devices') return segments[1] === 'query' || method === 'GET' ? 'reads' : 'other';
  if (ENTRA_SECOND_SEGMENTS.has(segments[1] ?? '')) return 'tokenAndDiscovery';
  return 'other';
}

/**
 * Counts a side's requests. `total` comes from the emulator's counters (responses by status plus dropped
 * connections) rather than from the log, which forgets its oldest records past 100,000.
 */
export function requestBreakdown(
  log: readonly { method: string; path: string; status: number }[],
  counters: { responsesByStatus: Record<string, number>; dropped: number },
): RequestBreakdown {
  const kinds: Record<RequestKind, number> = {
    tokenAndDiscovery: 0,
    permissionChecks: 0,
    reads: 0,
    writes: 0,
    other: 0,
  };
  for (const record of log) kinds[requestKind(record)]++;
  const answered = Object.values(counters.responsesByStatus).reduce((sum, n) => sum + n, 0);
  return {
    total: Math.max(answered + counters.dropped, log.length),
    ...kinds,
    status403: counters.responsesByStatus['403'] ?? 0,
    logged: log.length,
  };
}
