import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonEqual } from '../../src/azure/policy-writer';
import { twinMergePatch } from '../../src/azure/twin-policy-writer';

const parse = (text: string) => JSON.parse(text) as Record<string, unknown>;

void describe('twinMergePatch', () => {
  void it("keeps '__proto__' and 'constructor' as keys of the patch, at any level", () => {
    const desired = parse('{"__proto__": {"a": 1}, "constructor": "c", "n": {"__proto__": {"b": 2}}}');
    const patch = twinMergePatch(undefined, desired);
    assert.equal(JSON.stringify(patch), JSON.stringify(desired));
    assert.equal(Object.getPrototypeOf(patch), Object.prototype);
  });

  void it('merges into what the twin holds under those keys and removes them when no longer wanted', () => {
    const current = parse('{"__proto__": {"a": 1, "old": 1}, "constructor": "c"}');
    assert.equal(
      JSON.stringify(twinMergePatch(current, parse('{"__proto__": {"a": 2}}'))),
      '{"__proto__":{"a":2,"old":null},"constructor":null}',
    );
    // A document without the keys: an inherited 'constructor' is not mistaken for a wanted one.
    assert.equal(
      JSON.stringify(twinMergePatch(current, { v: 1 })),
      '{"v":1,"__proto__":null,"constructor":null}',
    );
  });
});

void describe('jsonEqual', () => {
  void it('compares own keys only', () => {
    assert.equal(jsonEqual(parse('{"constructor": 1}'), parse('{"other": 1}')), false);
    assert.equal(jsonEqual(parse('{"__proto__": {"a": 1}}'), parse('{"__proto__": {"a": 1}}')), true);
    assert.equal(jsonEqual(parse('{"__proto__": {"a": 1}}'), parse('{"__proto__": {"a": 2}}')), false);
  });
});
