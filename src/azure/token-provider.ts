/**
 * One token provider per scope (ARM, IoT Hub), shared by every activity of the worker: the token is
 * cached, checked before every request, refreshed ahead of expiry, and concurrent refreshes share one
 * request. After Azure refuses a token (401/403), `invalidate(refused)` makes the next `getToken`
 * return a genuinely new one, even though MSAL's cache would still hand out the refused token.
 */
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { registerSecret } from '../logger';
import type { CredentialSource } from './credential';
import { abortableSleep } from './pacing';

export const ARM_SCOPE = 'https://management.azure.com/.default';
export const IOT_HUB_SCOPE = 'https://iothubs.azure.net/.default';

export interface CachedToken {
  token: string;
  expiresOnTimestamp: number;
  /** When MSAL suggests refreshing (long-lived tokens). */
  refreshAfterTimestamp?: number;
  obtainedAtInMs: number;
  /** When the request that obtained it started. */
  requestedAtInMs?: number;
}

export interface TokenRefreshOptions {
  /** Refresh at most this long before expiry. @default 300000 (5 minutes) */
  refreshMarginInMs?: number;
  /** …or when less than this fraction of the lifetime is left, if that comes later. @default 0.1 */
  refreshFraction?: number;
}

export type TokenFreshness = 'fresh' | 'refresh' | 'expired';

/**
 * Whether a cached token can be used as is, should be refreshed (still usable if refreshing fails), or
 * must not be used. The refresh point is the later of "5 minutes before expiry" and "10% of the lifetime
 * left", so short-lived tokens are not refreshed on every call. Pure.
 *
 * A token with less life left than a request may take is treated as expired: half the refresh margin,
 * at most 30 s, and never less than a second or a quarter of the lifetime, whichever is shorter. The
 * floor matters for very short lifetimes (seconds, as in tests and demos), where 10% of the lifetime
 * is less than one request's latency on a loaded machine.
 */
export function tokenFreshness(
  token: CachedToken,
  nowInMs: number,
  options: TokenRefreshOptions = {},
): TokenFreshness {
  const lifetime = Math.max(0, token.expiresOnTimestamp - token.obtainedAtInMs);
  const proportional = Math.min(
    options.refreshMarginInMs ?? 300_000,
    lifetime * (options.refreshFraction ?? 0.1),
  );
  const inFlightAllowance = Math.min(30_000, Math.max(proportional / 2, Math.min(1_000, lifetime / 4)));
  const margin = Math.min(lifetime, Math.max(proportional, 2 * inFlightAllowance));
  const remaining = token.expiresOnTimestamp - nowInMs;
  // A token about to expire could lapse in flight: treat it as expired.
  if (remaining <= inFlightAllowance) return 'expired';
  if (remaining <= margin) return 'refresh';
  if (token.refreshAfterTimestamp !== undefined && nowInMs >= token.refreshAfterTimestamp) return 'refresh';
  return 'fresh';
}

export interface TokenProviderOptions extends TokenRefreshOptions {
  /** e.g. ARM_SCOPE or IOT_HUB_SCOPE. */
  scope: string;
  credentials: CredentialSource;
  /**
   * Refreshes asked for by requests that follow a 403 (`issuedAfterInMs`) are at least this far apart: the
   * requests in between share the next one, and each still carries a token issued after its 403. While a role
   * propagates, 403s arrive many a second; a new credential per 403 would cost Entra ID a discovery and a token
   * request each. @default 500
   */
  minForcedRefreshIntervalInMs?: number;
  /** @default Date.now */
  now?: () => number;
}

export interface InvalidateOptions {
  /** A claims challenge from the 401 (decoded JSON), passed to the next token request. */
  claims?: string;
  /**
   * A 403: the token is fine, the permission is not effective for it (yet). Other requests may go on using it;
   * a request that follows the refusal asks for a newer one with `issuedAfterInMs`. @default false (a 401: the
   * token itself was refused, nobody uses it again)
   */
  permissionRefused?: boolean;
}

export interface GetTokenOptions {
  abortSignal?: AbortSignal;
  /** The token must have been issued after this moment (a retry after a 403 at that moment). */
  issuedAfterInMs?: number;
}

export interface TokenProviderStats {
  /** Token requests made (each de-duplicated refresh counts once). */
  refreshes: number;
  /** Of those, the ones forced by `invalidate`. */
  forcedRefreshes: number;
  /** `invalidate` calls that were ignored because the refused token was no longer the cached one. */
  staleInvalidations: number;
}

function raceAbort<T>(promise: Promise<T>, abortSignal?: AbortSignal): Promise<T> {
  if (!abortSignal) return promise;
  if (abortSignal.aborted) return Promise.reject(abortSignal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortSignal.reason);
    abortSignal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        abortSignal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        abortSignal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** Tokens for one scope. Never logs a token; every token it obtains is registered for redaction. */
export class TokenProvider {
  readonly scope: string;
  private cached: CachedToken | undefined;
  private forceNext = false;
  private pendingClaims: string | undefined;
  private inflight: Promise<CachedToken> | undefined;
  private lastForcedAtInMs: number | undefined;
  /** Tokens Azure refused; a refresh that returns one of them (MSAL's cache) is repeated with a fresh credential. */
  private readonly refused = new Set<string>();
  private readonly now: () => number;
  private readonly statsValue: TokenProviderStats = {
    refreshes: 0,
    forcedRefreshes: 0,
    staleInvalidations: 0,
  };

  constructor(private readonly options: TokenProviderOptions) {
    this.scope = options.scope;
    this.now = options.now ?? Date.now;
  }

  /**
   * A token valid for at least the next request (and issued after `issuedAfterInMs`, when given). Waiting
   * callers can abort; the shared refresh goes on.
   */
  async getToken(options: GetTokenOptions | AbortSignal = {}): Promise<string> {
    const { abortSignal, issuedAfterInMs } =
      options instanceof AbortSignal ? { abortSignal: options } : options;
    if (issuedAfterInMs !== undefined) await this.obtainedAfter(issuedAfterInMs, abortSignal);
    const cached = this.cached;
    if (cached && !this.forceNext) {
      const freshness = tokenFreshness(cached, this.now(), this.options);
      if (freshness === 'fresh') return cached.token;
      if (freshness === 'refresh') {
        try {
          return (await raceAbort(this.refresh(), abortSignal)).token;
        } catch (error) {
          if (abortSignal?.aborted) throw error;
          // Refreshing early failed; the old token still has a little life left.
          if (cached.expiresOnTimestamp > this.now() + 5_000 && !this.refused.has(cached.token))
            return cached.token;
          throw error;
        }
      }
    }
    return (await raceAbort(this.refresh(), abortSignal)).token;
  }

  /**
   * Azure refused `refusedToken`: after a 401 the next getToken returns a new token; after a 403
   * (`permissionRefused`) only requests that ask for a token issued after the refusal get a new one. Ignored when
   * the cached token has already moved on, so many concurrent refusals of one token cause one refresh.
   * Returns whether this call caused the invalidation.
   */
  invalidate(refusedToken: string, options: InvalidateOptions = {}): boolean {
    if (this.refused.size > 64) this.refused.clear();
    this.refused.add(refusedToken);
    if (this.cached?.token !== refusedToken || this.forceNext) {
      this.statsValue.staleInvalidations += 1;
      return false;
    }
    if (options.permissionRefused) return true;
    this.forceNext = true;
    if (options.claims !== undefined) this.pendingClaims = options.claims;
    return true;
  }

  /** Waits until the cached token was asked for at or after `instantInMs`, refreshing (spaced, shared) as needed. */
  private async obtainedAfter(instantInMs: number, abortSignal: AbortSignal | undefined): Promise<void> {
    const spacing = this.options.minForcedRefreshIntervalInMs ?? 500;
    const fresh = () => (this.cached?.requestedAtInMs ?? -Infinity) >= instantInMs;
    while (!fresh()) {
      if (this.inflight) {
        await raceAbort(this.inflight, abortSignal).catch((error: unknown) => {
          if (abortSignal?.aborted) throw error;
        });
        if (fresh()) return;
      }
      const waitInMs = (this.lastForcedAtInMs ?? -Infinity) + spacing - this.now();
      if (waitInMs > 0) {
        await abortableSleep(waitInMs, abortSignal);
        continue;
      }
      if (this.inflight) continue;
      // A new credential: MSAL's cache would hand back the token the permission was refused for.
      this.forceNext = true;
      await raceAbort(this.refresh(), abortSignal);
    }
  }

  stats(): Readonly<TokenProviderStats> {
    return { ...this.statsValue };
  }

  /** Adapts this provider to a TokenCredential for SDK clients (e.g. AuthorizationManagementClient), sharing the cache. */
  asTokenCredential(): TokenCredential {
    return {
      getToken: async (_scopes, options) => {
        const token = await this.getToken(options?.abortSignal as AbortSignal | undefined);
        return { token, expiresOnTimestamp: this.cached?.expiresOnTimestamp ?? this.now() + 60_000 };
      },
    };
  }

  private refresh(): Promise<CachedToken> {
    if (!this.inflight) {
      this.inflight = this.fetchToken().finally(() => {
        this.inflight = undefined;
      });
    }
    return this.inflight;
  }

  private async fetchToken(): Promise<CachedToken> {
    const forced = this.forceNext;
    const claims = this.pendingClaims;
    const requestedAtInMs = this.now();
    this.statsValue.refreshes += 1;
    if (forced) {
      this.statsValue.forcedRefreshes += 1;
      this.lastForcedAtInMs = this.now();
    }
    let credential = forced ? this.options.credentials.renew() : this.options.credentials.current;
    let token = await this.request(credential, claims);
    if (this.refused.has(token.token)) {
      // A cache still held the refused token: only a fresh credential bypasses it.
      credential = this.options.credentials.renew();
      token = await this.request(credential, claims);
    }
    registerSecret(token.token);
    const cached: CachedToken = {
      token: token.token,
      expiresOnTimestamp: token.expiresOnTimestamp,
      ...(token.refreshAfterTimestamp === undefined
        ? {}
        : { refreshAfterTimestamp: token.refreshAfterTimestamp }),
      obtainedAtInMs: this.now(),
      requestedAtInMs,
    };
    this.cached = cached;
    // An invalidation that arrived during this request named the token this request replaced.
    if (this.refused.has(cached.token) === false) {
      this.forceNext = false;
      this.pendingClaims = undefined;
    }
    return cached;
  }

  private async request(credential: TokenCredential, claims: string | undefined): Promise<AccessToken> {
    let token: AccessToken | null;
    try {
      token = await credential.getToken(this.scope, claims === undefined ? {} : { claims });
    } catch (error) {
      throw (await this.options.credentials.explainFailure(error)) ?? error;
    }
    if (!token) throw new Error(`No token was issued for ${this.scope}`);
    return token;
  }
}
