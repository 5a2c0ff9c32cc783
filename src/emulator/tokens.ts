import { randomBytes } from 'node:crypto';
import type { Audience } from './identities';

/** What the emulator remembers about an access token it issued. The token itself stays opaque. */
export interface IssuedToken {
  principalObjectId: string;
  clientId: string;
  audience: Audience;
  expiresAtMs: number;
  /** Set by a claims challenge: the token is refused from then on, as continuous access evaluation does. */
  revoked: boolean;
  /**
   * Issued in answer to a claims challenge (the request's `claims` asked for a fresh `nbf`). Such a token is
   * not challenged again, so a client that handles CAE gets through on its one retry.
   */
  answersChallenge: boolean;
}

export interface IssueTokenOptions {
  principalObjectId: string;
  clientId: string;
  audience: Audience;
  lifetimeSeconds: number;
  answersChallenge: boolean;
}

export type TokenCheck =
  | { ok: true; token: string; issued: IssuedToken }
  | {
      ok: false;
      reason: 'missing' | 'malformed' | 'unknown' | 'expired' | 'revoked';
      token?: string;
      issued?: IssuedToken;
    };

export class TokenStore {
  private readonly live = new Map<string, IssuedToken>();
  private readonly history: string[] = [];
  private issuedSinceReset = 0;

  issue(options: IssueTokenOptions, nowMs: number): string {
    const { lifetimeSeconds, ...identity } = options;
    const token = `emu.${randomBytes(32).toString('base64url')}`;
    this.live.set(token, { ...identity, expiresAtMs: nowMs + lifetimeSeconds * 1000, revoked: false });
    this.history.push(token);
    this.issuedSinceReset++;
    return token;
  }

  /** Reads `Authorization: Bearer <token>` and says whether the token may be used now. */
  check(authorization: string | undefined, nowMs: number): TokenCheck {
    if (!authorization) return { ok: false, reason: 'missing' };
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    const token = match?.[1];
    if (!token) return { ok: false, reason: 'malformed' };
    const issued = this.live.get(token);
    if (!issued) return { ok: false, reason: 'unknown', token };
    if (issued.expiresAtMs <= nowMs) return { ok: false, reason: 'expired', token, issued };
    if (issued.revoked) return { ok: false, reason: 'revoked', token, issued };
    return { ok: true, token, issued };
  }

  revoke(token: string): void {
    const issued = this.live.get(token);
    if (issued) issued.revoked = true;
  }

  /** Every token ever issued, oldest first, including those issued before a reset. */
  all(): string[] {
    return [...this.history];
  }

  get issuedCount(): number {
    return this.issuedSinceReset;
  }

  /** Zeroes the count. Issued tokens stay valid: clients that cache them keep working across a reset. */
  resetCount(): void {
    this.issuedSinceReset = 0;
  }
}
