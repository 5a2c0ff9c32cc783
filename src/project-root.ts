/** The package's root folder, from sources (src/…) or compiled code (dist/src/…) alike. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function projectRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package root above ${from}`);
    dir = parent;
  }
}

/** True when this code runs compiled (dist/), not through tsx from the sources. */
export function runningCompiled(file: string = __filename): boolean {
  return file.endsWith('.js');
}
