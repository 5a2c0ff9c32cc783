/**
 * Fails on any import cycle among the TypeScript files under a directory (src/ by default), type-only imports
 * included: import-x/no-cycle in eslint.config.mjs skips `import type`, and a cycle of types still ties two
 * modules together. Part of `npm run lint`.
 *
 * Usage: node --import tsx scripts/import-cycles.ts [dir]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** Each cycle as the files on it (relative to `root`), in import order; empty when there is none. */
export function findImportCycles(root: string): string[][] {
  const files = listTypeScript(root);
  const known = new Set(files);
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
  };
  const edges = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map(
        ({ fileName }) =>
          ts.resolveModuleName(fileName, file, options, ts.sys).resolvedModule?.resolvedFileName,
      )
      .filter((target): target is string => target !== undefined && known.has(target));
    edges.set(file, [...new Set(targets)]);
  }
  return stronglyConnected(files, edges)
    .filter((component) => component.length > 1 || (edges.get(component[0]!) ?? []).includes(component[0]!))
    .map((component) => component.map((file) => relative(root, file)).sort());
}

function listTypeScript(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map((entry) => resolve(entry.parentPath, entry.name))
    .sort();
}

/** Tarjan's strongly connected components. */
function stronglyConnected(nodes: string[], edges: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component);
    }
  };
  for (const node of nodes) if (!index.has(node)) visit(node);
  return components;
}

if (require.main === module) {
  const root = resolve(process.argv[2] ?? join(__dirname, '..', 'src'));
  const cycles = findImportCycles(root);
  for (const cycle of cycles)
    process.stderr.write(`Import cycle in ${relative(process.cwd(), root) || '.'}: ${cycle.join(' <-> ')}\n`);
  process.stdout.write(
    cycles.length === 0 ? `No import cycle in ${relative(process.cwd(), root) || '.'}\n` : '',
  );
  process.exitCode = cycles.length === 0 ? 0 : 1;
}
