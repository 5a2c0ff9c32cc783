/**
 * Finds the first byte that is not valid UTF-8, with its offset and line, so an inventory file saved in
 * another encoding (a Latin-1 'é' is the lone byte 0xE9) is refused by name instead of being read with
 * U+FFFD in place of its characters. TextDecoder's `fatal` mode says that a file is invalid, not where.
 */
import { isUtf8 } from 'node:buffer';
import { InventoryError } from './errors';

export interface InvalidUtf8 {
  /** 0-based offset in the file of the first byte of the invalid sequence. */
  offset: number;
  /** 1-based line of that byte. */
  line: number;
  /** The byte at `offset`. */
  byte: number;
  /** The sequence ends with the file. */
  truncated: boolean;
}

/**
 * A UTF-8 validator fed chunk by chunk (a sequence may straddle two chunks). Follows the Unicode
 * well-formed byte sequences table: no overlong forms, no surrogates, nothing above U+10FFFF.
 */
export class Utf8Scanner {
  private offset = 0;
  private line = 1;
  /** Continuation bytes still expected, and the allowed range of the next one. */
  private needed = 0;
  private low = 0x80;
  private high = 0xbf;
  private sequenceStart = 0;
  private sequenceLine = 1;
  private leadByte = 0;
  private invalid: InvalidUtf8 | undefined;

  /** Scans the next chunk; returns the first invalid sequence once found (and from then on). */
  push(chunk: Uint8Array): InvalidUtf8 | undefined {
    if (this.invalid) return this.invalid;
    if (this.needed === 0 && isUtf8(chunk)) {
      // Fast path: count lines only.
      for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) this.line++;
      this.offset += chunk.length;
      return undefined;
    }
    for (const byte of chunk) {
      if (this.needed > 0) {
        if (byte < this.low || byte > this.high) return this.fail(byte, false);
        this.low = 0x80;
        this.high = 0xbf;
        this.needed--;
      } else if (byte >= 0x80) {
        this.sequenceStart = this.offset;
        this.sequenceLine = this.line;
        this.leadByte = byte;
        if (byte >= 0xc2 && byte <= 0xdf) this.needed = 1;
        else if (byte >= 0xe0 && byte <= 0xef) {
          this.needed = 2;
          if (byte === 0xe0) this.low = 0xa0;
          if (byte === 0xed) this.high = 0x9f;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          this.needed = 3;
          if (byte === 0xf0) this.low = 0x90;
          if (byte === 0xf4) this.high = 0x8f;
        } else {
          return this.fail(byte, false);
        }
      } else if (byte === 0x0a) {
        this.line++;
      }
      this.offset++;
    }
    return undefined;
  }

  /** Ends the input: a sequence still open is invalid. */
  end(): InvalidUtf8 | undefined {
    if (this.invalid) return this.invalid;
    return this.needed > 0 ? this.fail(this.leadByte, true) : undefined;
  }

  /** `byte` is the one at the current offset; a sequence that broke is reported where it started. */
  private fail(byte: number, truncated: boolean): InvalidUtf8 {
    const inSequence = this.needed > 0;
    this.invalid = {
      offset: inSequence ? this.sequenceStart : this.offset,
      line: inSequence ? this.sequenceLine : this.line,
      byte: inSequence ? this.leadByte : byte,
      truncated,
    };
    return this.invalid;
  }
}

/** The first invalid UTF-8 sequence of a whole buffer, or undefined. */
export function findInvalidUtf8(bytes: Uint8Array): InvalidUtf8 | undefined {
  const scanner = new Utf8Scanner();
  return scanner.push(bytes) ?? scanner.end();
}

/** Says where and what, and what to do. */
export function describeInvalidUtf8(invalid: InvalidUtf8): string {
  const hex = `0x${invalid.byte.toString(16).toUpperCase().padStart(2, '0')}`;
  const what = invalid.truncated
    ? 'starts a sequence the file ends in the middle of'
    : 'does not start a valid UTF-8 sequence';
  return `is not valid UTF-8: byte ${hex} at offset ${invalid.offset} (line ${invalid.line}) ${what}; save the file as UTF-8`;
}

/** The refusal of an inventory file that is not UTF-8, naming the variable, the file and the place. */
export function invalidUtf8Error(invalid: InvalidUtf8, path: string, variable: string): InventoryError {
  return new InventoryError(
    'InvalidInventoryFile',
    `${variable} ${path} ${describeInvalidUtf8(invalid)}`,
    path,
  );
}

/** A whole inventory file as text: refused unless UTF-8; a byte-order mark is dropped. */
export function decodeInventoryFile(raw: Buffer, path: string, variable: string): string {
  const invalid = findInvalidUtf8(raw);
  if (invalid) throw invalidUtf8Error(invalid, path, variable);
  return raw.toString('utf8').replace(/^\uFEFF/, '');
}
