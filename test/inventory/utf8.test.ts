import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findInvalidUtf8, Utf8Scanner } from '../../src/inventory/utf8';

const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

void describe('findInvalidUtf8', () => {
  void it('accepts UTF-8, a byte-order mark and every well-formed range', () => {
    assert.equal(findInvalidUtf8(bytes('\uFEFFcafé ✓ 😀 \u{10FFFF}')), undefined);
    assert.equal(
      findInvalidUtf8(bytes([0xed, 0x9f, 0xbf, 0xee, 0x80, 0x80, 0xf4, 0x8f, 0xbf, 0xbf])),
      undefined,
    );
  });

  void it('names the offset, line and byte of the first invalid sequence', () => {
    // A Latin-1 é: the lead byte of a 3-byte sequence followed by an ASCII byte.
    assert.deepEqual(findInvalidUtf8(bytes('a,b\nx,caf', [0xe9], ',y\n', [0xff])), {
      offset: 9,
      line: 2,
      byte: 0xe9,
      truncated: false,
    });
    assert.deepEqual(findInvalidUtf8(bytes('ab', [0x80])), {
      offset: 2,
      line: 1,
      byte: 0x80,
      truncated: false,
    });
    assert.deepEqual(findInvalidUtf8(bytes('ab\n\n', [0xe2, 0x9c])), {
      offset: 4,
      line: 3,
      byte: 0xe2,
      truncated: true,
    });
  });

  void it('refuses overlong forms, surrogates and code points above U+10FFFF', () => {
    for (const bad of [
      [0xc0, 0xaf],
      [0xc1, 0xbf],
      [0xe0, 0x80, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf0, 0x80, 0x80, 0xaf],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf5, 0x80, 0x80, 0x80],
    ]) {
      assert.equal(findInvalidUtf8(bytes('x', bad))?.offset, 1, Buffer.from(bad).toString('hex'));
    }
  });

  void it('follows a sequence across chunks and counts offsets over the whole input', () => {
    const scanner = new Utf8Scanner();
    assert.equal(scanner.push(bytes('ok\n', [0xe2])), undefined);
    assert.equal(scanner.push(bytes([0x9c, 0x93], '\n')), undefined);
    assert.deepEqual(scanner.push(bytes('é', [0xe9], 'x')), {
      offset: 9,
      line: 3,
      byte: 0xe9,
      truncated: false,
    });
    assert.equal(scanner.end()?.offset, 9);
  });
});
