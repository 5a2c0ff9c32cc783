#!/usr/bin/env node
'use strict';
// The `policy-sync` command. Runs the compiled CLI when `npm run build` has made it; on a fresh clone,
// runs the TypeScript sources through tsx, so `npx policy-sync` and `npm start` work without a build.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `policy-sync: needs Node.js >= 22.19 (this is ${process.version}). Run it through npm, which puts the ` +
      `Node 24 the project installs (npm ci) first on PATH: npx policy-sync …, npm start; or install Node 24.\n`,
  );
  process.exit(2);
}

const root = join(__dirname, '..');
const built = join(root, 'dist', 'src', 'cli', 'main.js');
if (existsSync(built)) {
  require(built).runMain();
} else {
  require('tsx/cjs');
  require(join(root, 'src', 'cli', 'main.ts')).runMain();
}
