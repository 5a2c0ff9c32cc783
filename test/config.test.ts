/**
 * TEMPORAL_ADDRESS: what the Temporal SDK accepts passes; what it would refuse later (or misread) is a
 * configuration problem now, with exit 2.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../src/config';

void describe('TEMPORAL_ADDRESS', () => {
  const address = configSchema.shape.TEMPORAL_ADDRESS;

  void it('accepts host[:port] as the SDK does', () => {
    for (const value of [
      'localhost:7233',
      ' localhost:7233 ',
      'temporal',
      '127.0.0.1:7233',
      '[::1]:7233',
      'my-ns.a1b2c.tmprl.cloud:7233',
      'proj_temporal_1:7233',
    ]) {
      assert.equal(address.safeParse(value).success, true, value);
    }
  });

  void it('refuses a scheme, a bad port, spaces, stray colons', () => {
    for (const value of ['http://localhost:7233', 'not:a:port', 'h:0', 'h:70000', 'a b:7233', 'h:', '']) {
      const result = address.safeParse(value);
      assert.equal(result.success, false, value);
      assert.match(result.error!.issues[0]!.message, /must be host\[:port\]/, value);
    }
  });
});
