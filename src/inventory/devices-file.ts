/**
 * DEVICES_FILE: a JSON array `[{"deviceId","policy"?}]` or a CSV file with a header `deviceId,policy`.
 * Rows come out raw (validation is the builder's job), numbered from 1 among data rows. CSV is streamed;
 * JSON is read once. Every byte read also feeds the snapshot hash.
 */
import { createReadStream } from 'node:fs';
import type { Hash } from 'node:crypto';
import { extname } from 'node:path';
import { parse } from 'csv-parse';
import { InventoryError } from './errors';
import { parseJsonFile, readInventoryFile } from './policies';
import { decodeInventoryFile, invalidUtf8Error, Utf8Scanner } from './utf8';

/** One row as read. `problem` is set when the row is unusable before field validation. */
export interface RawDeviceRow {
  /** 1-based among data rows. */
  row: number;
  /** 1-based line of the file where the row ends (CSV). */
  line?: number;
  deviceId?: unknown;
  policy?: unknown;
  problem?: string;
}

export type DevicesFileFormat = 'json' | 'csv';

/** By extension; otherwise by the first character ('[' is JSON). */
export function detectDevicesFormat(path: string, firstBytes: Buffer): DevicesFileFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.json') return 'json';
  return firstBytes
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart()
    .startsWith('[')
    ? 'json'
    : 'csv';
}

async function readHead(path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of createReadStream(path, { start: 0, end: 255 })) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= 256) break;
    }
  } catch (error) {
    await readInventoryFile(path, 'DEVICES_FILE'); // throws the error naming the file
    throw error;
  }
  return Buffer.concat(chunks);
}

/** Rows of a JSON devices array. Pure over the parsed value. */
export function jsonDeviceRows(value: unknown, path: string): RawDeviceRow[] {
  if (!Array.isArray(value)) {
    throw new InventoryError(
      'InvalidInventoryFile',
      `DEVICES_FILE ${path} must hold a JSON array of {"deviceId", "policy"} objects, not ${value === null ? 'null' : typeof value}`,
      path,
    );
  }
  return value.map((item: unknown, index): RawDeviceRow => {
    const row = index + 1;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      return {
        row,
        problem: `row must be an object like {"deviceId": "…", "policy": "…"}, not ${item === null ? 'null' : Array.isArray(item) ? 'an array' : typeof item}`,
      };
    }
    const record = item as Record<string, unknown>;
    return { row, deviceId: record.deviceId, policy: record.policy };
  });
}

async function* csvDeviceRows(path: string, hash: Hash): AsyncGenerator<RawDeviceRow> {
  const stream = createReadStream(path);
  const utf8 = new Utf8Scanner();
  // Registered before the parser's own listener, so a chunk that is not UTF-8 never reaches it.
  stream.on('data', (chunk) => {
    hash.update(chunk);
    const invalid = utf8.push(chunk as Buffer);
    if (invalid) parser.destroy(invalidUtf8Error(invalid, path, 'DEVICES_FILE'));
  });
  stream.on('end', () => {
    const invalid = utf8.end();
    if (invalid) parser.destroy(invalidUtf8Error(invalid, path, 'DEVICES_FILE'));
  });
  const parser = stream.pipe(
    parse({
      bom: true,
      trim: true,
      skip_empty_lines: true,
      skip_records_with_empty_values: true,
      relax_column_count: true,
      relax_quotes: true,
      info: true,
    }),
  );
  stream.on('error', (error) => parser.destroy(error));
  let header: string[] | undefined;
  let deviceIdColumn = -1;
  let policyColumn = -1;
  let row = 0;
  try {
    for await (const entry of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const { record, info } = entry;
      if (!header) {
        header = record.map((h) => h.trim());
        const lower = header.map((h) => h.toLowerCase());
        deviceIdColumn = lower.indexOf('deviceid');
        policyColumn = lower.indexOf('policy');
        if (deviceIdColumn < 0) {
          throw new InventoryError(
            'InvalidInventoryFile',
            `DEVICES_FILE ${path}: the first line must be a header naming a deviceId column (and optionally policy); found: ${header.join(', ').slice(0, 200)}`,
            path,
          );
        }
        continue;
      }
      row += 1;
      if (record.length > header.length) {
        yield {
          row,
          line: info.lines,
          problem: `row has ${record.length} fields but the header has ${header.length} (a value with a comma needs quotes)`,
        };
        continue;
      }
      yield {
        row,
        line: info.lines,
        deviceId: record[deviceIdColumn],
        policy: policyColumn >= 0 ? record[policyColumn] : undefined,
      };
    }
  } catch (error) {
    if (error instanceof InventoryError) throw error;
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR')
      await readInventoryFile(path, 'DEVICES_FILE');
    const message = error instanceof Error ? error.message : String(error);
    throw new InventoryError(
      'InvalidInventoryFile',
      `DEVICES_FILE ${path} is not valid CSV: ${message}`,
      path,
      { cause: error },
    );
  } finally {
    stream.destroy();
  }
  if (!header) throw new InventoryError('InvalidInventoryFile', `DEVICES_FILE ${path} is empty`, path);
}

/** Reads DEVICES_FILE row by row; throws InventoryError when the file is unusable as a whole. */
export async function* readDevicesFile(path: string, hash: Hash): AsyncGenerator<RawDeviceRow> {
  const head = await readHead(path);
  if (detectDevicesFormat(path, head) === 'csv') {
    yield* csvDeviceRows(path, hash);
    return;
  }
  const raw = await readInventoryFile(path, 'DEVICES_FILE');
  hash.update(raw);
  yield* jsonDeviceRows(
    parseJsonFile(decodeInventoryFile(raw, path, 'DEVICES_FILE'), path, 'DEVICES_FILE'),
    path,
  );
}
