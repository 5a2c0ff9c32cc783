import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, InvalidDurationError, parseDuration } from '../../src/cli/duration';

describe('parseDuration', () => {
  it('reads a number with a unit', () => {
    assert.equal(parseDuration('4h'), 4 * 3_600_000);
    assert.equal(parseDuration('30m'), 30 * 60_000);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('1.5h'), 5_400_000);
  });

  it('reads compound durations, case and surrounding spaces aside', () => {
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration(' 2H '), 7_200_000);
    assert.equal(parseDuration('1m30s'), 90_000);
  });

  it('refuses what is not a duration, naming the input', () => {
    for (const bad of ['', '4', 'h', '4 h', '4x', '-4h', '0s', 'four hours', '4h-', '1e3s']) {
      assert.throws(
        () => parseDuration(bad),
        (error: unknown) => {
          assert.ok(error instanceof InvalidDurationError, `${bad}: ${String(error)}`);
          assert.ok(error.message.includes(`'${bad}'`));
          return true;
        },
      );
    }
  });
});

describe('formatDuration', () => {
  it('prints short human forms that parseDuration reads back', () => {
    assert.equal(formatDuration(4 * 3_600_000), '4h');
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(1_500), '1.5s');
    assert.equal(formatDuration(250), '250ms');
    for (const text of ['4h', '1h30m', '90s', '2d3h']) {
      assert.equal(formatDuration(parseDuration(text)), text === '90s' ? '1m30s' : text);
    }
  });
});
