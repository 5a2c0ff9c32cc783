import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { CredentialSource } from '../../src/azure/credential';
import { tokenFreshness, TokenProvider } from '../../src/azure/token-provider';

/** A credential whose instances share a counter; each instance caches its token, as MSAL does. */
function fakeCredentials(lifetimeMs = 3_600_000, now = () => Date.now()) {
  let issued = 0;
  const calls: { instance: number; claims?: string }[] = [];
  let instances = 0;
  const factory = (): TokenCredential => {
    const instance = ++instances;
    let cached: AccessToken | undefined;
    return {
      async getToken(_scopes: string | string[], options?: GetTokenOptions) {
        calls.push({ instance, ...(options?.claims ? { claims: options.claims } : {}) });
        await new Promise((r) => setTimeout(r, 5));
        // Like MSAL: a cached token is served unless it expires within 5 minutes.
        if (
          cached &&
          !options?.claims &&
          cached.expiresOnTimestamp - now() > Math.min(300_000, lifetimeMs / 2)
        )
          return cached;
        cached = { token: `token-${++issued}`, expiresOnTimestamp: now() + lifetimeMs };
        return cached;
      },
    };
  };
  return { source: new CredentialSource(factory), calls, issuedCount: () => issued };
}

void describe('tokenFreshness', () => {
  const hour = 3_600_000;
  void it('refreshes 5 minutes before expiry for an hour-long token', () => {
    const token = { token: 't', obtainedAtInMs: 0, expiresOnTimestamp: hour };
    assert.equal(tokenFreshness(token, hour - 6 * 60_000), 'fresh');
    assert.equal(tokenFreshness(token, hour - 4 * 60_000), 'refresh');
    assert.equal(tokenFreshness(token, hour - 20_000), 'expired');
  });
  void it('refreshes short-lived tokens at 10% of their lifetime, not on every call', () => {
    const token = { token: 't', obtainedAtInMs: 0, expiresOnTimestamp: 60_000 };
    assert.equal(tokenFreshness(token, 50_000), 'fresh');
    assert.equal(tokenFreshness(token, 54_500), 'refresh');
    assert.equal(tokenFreshness(token, 57_500), 'expired');
  });
  void it('keeps a request-sized allowance for tokens that live only seconds', () => {
    // 2 s: 10% would leave 100 ms for a request; a quarter of the lifetime (500 ms) is kept instead.
    const token = { token: 't', obtainedAtInMs: 0, expiresOnTimestamp: 2_000 };
    assert.equal(tokenFreshness(token, 900), 'fresh');
    assert.equal(tokenFreshness(token, 1_200), 'refresh');
    assert.equal(tokenFreshness(token, 1_600), 'expired');
  });
  void it("honours MSAL's refreshAfterTimestamp", () => {
    const token = {
      token: 't',
      obtainedAtInMs: 0,
      expiresOnTimestamp: 24 * hour,
      refreshAfterTimestamp: 12 * hour,
    };
    assert.equal(tokenFreshness(token, 12 * hour + 1), 'refresh');
  });
});

void describe('TokenProvider', () => {
  void it('caches the token and de-duplicates concurrent refreshes', async () => {
    const fake = fakeCredentials();
    const provider = new TokenProvider({ scope: 's', credentials: fake.source });
    const tokens = await Promise.all(Array.from({ length: 50 }, () => provider.getToken()));
    assert.equal(new Set(tokens).size, 1);
    assert.equal(fake.calls.length, 1);
    assert.equal(await provider.getToken(), tokens[0]);
    assert.equal(fake.calls.length, 1);
  });

  void it('after invalidate(refused), the next token is new although the credential cache still holds the old one', async () => {
    const fake = fakeCredentials();
    const provider = new TokenProvider({ scope: 's', credentials: fake.source });
    const refused = await provider.getToken();
    assert.equal(provider.invalidate(refused), true);
    const next = await provider.getToken();
    assert.notEqual(next, refused);
    assert.equal(fake.source.renewalCount, 1, 'a fresh credential bypassed the cache');
  });

  void it('50 concurrent refusals of one token cause one refresh', async () => {
    const fake = fakeCredentials();
    const provider = new TokenProvider({ scope: 's', credentials: fake.source });
    const refused = await provider.getToken();
    const results = await Promise.all(
      Array.from({ length: 50 }, async () => {
        provider.invalidate(refused);
        return provider.getToken();
      }),
    );
    assert.equal(new Set(results).size, 1);
    assert.notEqual(results[0], refused);
    assert.equal(provider.stats().forcedRefreshes, 1);
    assert.equal(fake.issuedCount(), 2);
    // A late refusal of the old token changes nothing.
    assert.equal(provider.invalidate(refused), false);
    assert.equal(await provider.getToken(), results[0]);
    assert.equal(fake.issuedCount(), 2);
  });

  void it('passes a claims challenge to the next token request', async () => {
    const fake = fakeCredentials();
    const provider = new TokenProvider({ scope: 's', credentials: fake.source });
    const refused = await provider.getToken();
    provider.invalidate(refused, { claims: '{"access_token":{}}' });
    await provider.getToken();
    assert.equal(fake.calls.at(-1)?.claims, '{"access_token":{}}');
  });

  void it('refreshes ahead of expiry', async () => {
    let now = 1_000_000;
    const fake = fakeCredentials(60_000, () => now);
    const provider = new TokenProvider({ scope: 's', credentials: fake.source, now: () => now });
    const first = await provider.getToken();
    now += 55_000; // less than 10% of the lifetime left
    const second = await provider.getToken();
    assert.notEqual(second, first);
  });

  void it('a caller can stop waiting without cancelling the shared refresh', async () => {
    const fake = fakeCredentials();
    const provider = new TokenProvider({ scope: 's', credentials: fake.source });
    const controller = new AbortController();
    const waiting = provider.getToken(controller.signal);
    controller.abort(new Error('cancelled'));
    await assert.rejects(waiting, /cancelled/);
    assert.match(await provider.getToken(), /^token-/);
    assert.equal(fake.calls.length, 1);
  });
});
