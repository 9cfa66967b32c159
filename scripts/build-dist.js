#!/usr/bin/env node
// Compiles the runtime TypeScript (tsconfig.build.json) into dist/, so `ebb` starts without
// transpiling. Run by `npm run build` and after install; bin/ebb.js uses dist/ only while it is
// newer than every source file, and runs the sources through tsx otherwise.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
// Read by bin/ebb.js: sources modified after this instant make dist/ stale.
const STAMP = path.join(DIST, '.built-at');

function log(msg) {
  process.stdout.write(`[ebb build] ${msg}\n`);
}

let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
} catch {
  // A production install (npm ci --omit=dev) has no TypeScript: the CLI then runs through tsx.
  log('TypeScript is not installed; bin/ebb.js will run the sources through tsx');
  process.exit(0);
}

// Taken before compiling, so a file saved during the build counts as newer than dist/.
const startedAt = Date.now();
fs.rmSync(STAMP, { force: true });
const result = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], {
  cwd: ROOT,
  stdio: ['ignore', 'pipe', 'pipe'],
  encoding: 'utf8',
});
if (!fs.existsSync(path.join(DIST, 'cli', 'main.js'))) {
  process.stderr.write(result.stdout + result.stderr);
  log('compiling failed; bin/ebb.js will run the sources through tsx');
  process.exit(0);
}
// tsc emits even when a type check fails; type errors are `npm run typecheck`'s to report.
if (result.status !== 0) log('compiled with type errors (see `npm run typecheck`)');
fs.writeFileSync(STAMP, `${startedAt}\n`);
log(`compiled into dist/ in ${((Date.now() - startedAt) / 1000).toFixed(1)}s`);
