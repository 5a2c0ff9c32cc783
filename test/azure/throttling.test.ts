import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideThrottling, headerValue, retryAfterInMs } from '../../src/azure/throttling';

void describe('retryAfterInMs', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  void it('reads Retry-After in seconds', () => {
    assert.equal(retryAfterInMs({ 'retry-after': '7' }, now), 7000);
    assert.equal(retryAfterInMs({ 'Retry-After': '0.5' }, now), 500);
  });

  void it('reads Retry-After as an HTTP date', () => {
    assert.equal(retryAfterInMs({ 'retry-after': 'Wed, 01 Jan 2025 00:00:12 GMT' }, now), 12_000);
    assert.equal(
      retryAfterInMs({ 'retry-after': 'Tue, 31 Dec 2024 23:59:00 GMT' }, now),
      0,
      'a past date means now',
    );
  });

  void it('prefers retry-after-ms, then x-ms-retry-after-ms, over Retry-After', () => {
    assert.equal(retryAfterInMs({ 'retry-after-ms': '250', 'retry-after': '9' }, now), 250);
    assert.equal(retryAfterInMs({ 'x-ms-retry-after-ms': '1500', 'retry-after': '9' }, now), 1500);
  });

  void it('ignores garbage and absence', () => {
    assert.equal(retryAfterInMs({}, now), undefined);
    assert.equal(retryAfterInMs({ 'retry-after': 'soon' }, now), undefined);
    assert.equal(retryAfterInMs({ 'retry-after-ms': '-5' }, now), undefined);
  });

  void it('reads repeated headers by their first value', () => {
    assert.equal(headerValue({ 'retry-after': ['3', '4'] }, 'Retry-After'), '3');
  });
});

void describe('decideThrottling', () => {
  void it('treats 429 and 503 as throttling and carries the delay', () => {
    assert.deepEqual(decideThrottling(429, { 'retry-after': '2' }, 0), {
      throttled: true,
      retryAfterInMs: 2000,
    });
    assert.deepEqual(decideThrottling(503, {}, 0), { throttled: true });
    assert.deepEqual(decideThrottling(500, { 'retry-after': '2' }, 0), { throttled: false });
  });
});
