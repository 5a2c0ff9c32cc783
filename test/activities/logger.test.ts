import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, redact, registerSecret } from '../../src/logger';

void describe('logger', () => {
  void it('writes JSON lines with fields, below-level entries dropped', () => {
    const lines: string[] = [];
    const log = createLogger({
      format: 'json',
      level: 'INFO',
      write: (l) => lines.push(l),
      now: () => new Date(0),
    });
    log.debug('hidden');
    log.child({ deviceId: 'd1' }).info('written', { attempt: 2 });
    assert.equal(lines.length, 1);
    assert.deepEqual(JSON.parse(lines[0]!), {
      time: '1970-01-01T00:00:00.000Z',
      level: 'INFO',
      message: 'written',
      deviceId: 'd1',
      attempt: 2,
    });
  });

  void it('writes plain lines', () => {
    const lines: string[] = [];
    createLogger({ format: 'plain', write: (l) => lines.push(l), now: () => new Date(0) }).warn('slow down', {
      retryInMs: 100,
      hub: 'h 1',
    });
    assert.equal(lines[0], '1970-01-01T00:00:00.000Z WARN  slow down retryInMs=100 hub="h 1"');
  });

  void it('redacts bearer tokens, JWTs, client secrets and registered secrets', () => {
    registerSecret('opaque-token-value-123');
    const lines: string[] = [];
    const log = createLogger({ format: 'json', write: (l) => lines.push(l) });
    log.error('request failed', {
      authorization: 'Bearer abc.def.ghi',
      body: 'client_secret=s3cr3t&grant_type=client_credentials',
      jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig',
      nested: { token: 'opaque-token-value-123' },
      error: new Error('saw opaque-token-value-123'),
    });
    const out = lines.join('\n');
    for (const secret of ['abc.def.ghi', 's3cr3t', 'eyJhbGciOiJIUzI1NiJ9', 'opaque-token-value-123']) {
      assert.ok(!out.includes(secret), `${secret} leaked: ${out}`);
    }
    assert.match(out, /\[REDACTED\]/);
    assert.equal(redact('{"clientSecret":"abc"}'), '{"clientSecret":"[REDACTED]"}');
  });
});
