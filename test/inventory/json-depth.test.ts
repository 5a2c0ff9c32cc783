import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonDepth, MAX_POLICY_DEPTH, policyDepthProblem } from '../../src/domain/json-depth';

void describe('jsonDepth', () => {
  void it('counts objects and arrays, not scalars', () => {
    assert.equal(jsonDepth(1), 0);
    assert.equal(jsonDepth(null), 0);
    assert.equal(jsonDepth({}), 1);
    assert.equal(jsonDepth({ a: [1, { b: 'x' }], c: 2 }), 3);
    assert.equal(jsonDepth([[], [[[]]], {}]), 4);
  });

  void it('measures 100,000 levels without overflowing the stack', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
    assert.equal(jsonDepth(deep), 100_000);
    assert.equal(jsonDepth(deep, 32), 33, 'stops once past the limit');
  });

  void it('policyDepthProblem allows MAX_POLICY_DEPTH levels and names the limit past it', () => {
    const nest = (levels: number): unknown => JSON.parse(`${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`);
    assert.equal(jsonDepth(nest(MAX_POLICY_DEPTH)), MAX_POLICY_DEPTH);
    assert.equal(policyDepthProblem(nest(MAX_POLICY_DEPTH)), undefined);
    assert.match(policyDepthProblem(nest(MAX_POLICY_DEPTH + 1)) ?? '', /more than 32 levels.*at most 32/);
  });
});
