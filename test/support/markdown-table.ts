/**
 * The tables of a Markdown document, for tests that check a document against the code: the first table under a
 * heading, its rows as records keyed by the header cells (backticks and surrounding spaces kept out of keys).
 */

export type TableRow = Record<string, string>;

function cells(line: string): string[] {
  const inner = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  // A `\|` inside a cell is a literal bar, not a separator.
  return inner.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, '|'));
}

/**
 * The first table after the heading whose text is `heading` (any level), before the next heading of the same or
 * a higher level. Throws naming the heading when there is none, so a renamed section fails loudly.
 */
export function tableUnder(markdown: string, heading: string): TableRow[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex(
    (line) => /^#{1,6} /.test(line) && line.replace(/^#+ /, '').trim() === heading,
  );
  if (start < 0) throw new Error(`no heading '${heading}'`);
  const level = /^#+/.exec(lines[start] ?? '')?.[0].length ?? 1;
  let i = start + 1;
  for (; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const match = /^(#+) /.exec(line);
    if (match && (match[1]?.length ?? 0) <= level) break;
    if (line.trimStart().startsWith('|')) break;
  }
  if (i >= lines.length || !(lines[i] ?? '').trimStart().startsWith('|')) {
    throw new Error(`no table under '${heading}'`);
  }
  const header = cells(lines[i] ?? '').map((cell) => cell.replace(/`/g, ''));
  const rows: TableRow[] = [];
  for (let j = i + 2; j < lines.length && (lines[j] ?? '').trimStart().startsWith('|'); j++) {
    const row = cells(lines[j] ?? '');
    if (row.length !== header.length) {
      throw new Error(
        `'${heading}' table line ${j + 1}: ${row.length} cells, the header has ${header.length}`,
      );
    }
    rows.push(Object.fromEntries(header.map((key, k) => [key, row[k] ?? ''])));
  }
  return rows;
}

/** The backticked words of a cell: "`a`, `b` or `c`" → ['a', 'b', 'c']. */
export function codesIn(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
}
