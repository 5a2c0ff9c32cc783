/**
 * POLICIES_FILE: a JSON object, policy name → policy document. A document must be a JSON object of at
 * most 32 KB nesting at most MAX_POLICY_DEPTH levels; a bad entry is rejected (and devices naming it are
 * rejected in turn), the rest go on.
 */
import { readFile } from 'node:fs/promises';
import type { PolicyDocument, Rejection } from '../domain/inventory';
import { policyDepthProblem } from '../domain/json-depth';
import { InventoryError } from './errors';
import { decodeInventoryFile } from './utf8';

export const MAX_POLICY_BYTES = 32 * 1024;

export type { PolicyDocument };

export interface LoadedPolicies {
  /** Valid documents by name. */
  documents: Map<string, PolicyDocument>;
  /** Names rejected, with why (so devices naming them can say so). */
  rejectedNames: Map<string, string>;
  rejected: Rejection[];
  /** The file's bytes, for the snapshot hash. */
  raw: Buffer;
}

/** Reads a whole file, turning a missing or unreadable file into an InventoryError naming it. */
export async function readInventoryFile(path: string, variable: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES'
          ? 'is not readable'
          : `cannot be read (${code ?? String(error)})`;
    throw new InventoryError('InvalidInventoryFile', `${variable} ${path} ${why}`, path, { cause: error });
  }
}

/** Parses JSON text, saying where and how it broke. */
export function parseJsonFile(text: string, path: string, variable: string): unknown {
  if (text.trim() === '') {
    throw new InventoryError('InvalidInventoryFile', `${variable} ${path} is empty`, path);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    const truncated = /end of (JSON )?input|Unterminated/i.test(detail) ? ' (the file looks truncated)' : '';
    throw new InventoryError(
      'InvalidInventoryFile',
      `${variable} ${path} is not valid JSON${truncated}: ${detail}`,
      path,
      {
        cause: error,
      },
    );
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates policies already parsed from `source`. Pure. */
export function validatePolicies(value: unknown, source: string): Omit<LoadedPolicies, 'raw'> {
  if (!isPlainObject(value)) {
    throw new InventoryError(
      'InvalidInventoryFile',
      `POLICIES_FILE ${source} must hold a JSON object mapping policy names to documents, not ${Array.isArray(value) ? 'an array' : typeof value}`,
      source,
    );
  }
  const documents = new Map<string, PolicyDocument>();
  const rejectedNames = new Map<string, string>();
  const rejected: Rejection[] = [];
  let row = 0;
  for (const [name, document] of Object.entries(value)) {
    row += 1;
    let reason: string | undefined;
    if (name.trim() === '') reason = 'policy name is empty';
    else if (!isPlainObject(document)) {
      reason = `policy '${name}': the document must be a JSON object, not ${Array.isArray(document) ? 'an array' : document === null ? 'null' : typeof document}`;
    } else {
      // Depth first: JSON.stringify of a deeply nested document overflows the stack.
      const tooDeep = policyDepthProblem(document);
      if (tooDeep) reason = `policy '${name}': ${tooDeep}`;
    }
    if (!reason) {
      const bytes = Buffer.byteLength(JSON.stringify(document));
      if (bytes > MAX_POLICY_BYTES) {
        reason = `policy '${name}': the document is ${bytes} bytes; at most ${MAX_POLICY_BYTES} (32 KB) are allowed`;
      }
    }
    if (reason) {
      rejectedNames.set(name, reason);
      rejected.push({ source, row, reason });
    } else {
      documents.set(name, document as PolicyDocument);
    }
  }
  return { documents, rejectedNames, rejected };
}

/** Loads and validates POLICIES_FILE. Throws InventoryError for a file that is unusable as a whole. */
export async function loadPoliciesFile(path: string): Promise<LoadedPolicies> {
  const raw = await readInventoryFile(path, 'POLICIES_FILE');
  const text = decodeInventoryFile(raw, path, 'POLICIES_FILE');
  return { ...validatePolicies(parseJsonFile(text, path, 'POLICIES_FILE'), path), raw };
}
