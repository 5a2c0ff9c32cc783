#!/usr/bin/env node
'use strict';
// The `policy-sync` command. Runs the compiled CLI when `npm run build` has made it; on a fresh clone,
// runs the TypeScript sources through tsx, so `npx policy-sync` and `npm start` work without a build.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const built = join(root, 'dist', 'src', 'cli', 'main.js');
if (existsSync(built)) {
  require(built).runMain();
} else {
  require('tsx/cjs');
  require(join(root, 'src', 'cli', 'main.ts')).runMain();
}
