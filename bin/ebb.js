#!/usr/bin/env node
// Runs the CLI from dist/ (compiled by `npm run build`, also after install) while dist/ is newer
// than every source file; otherwise, or with EBB_FROM_SOURCE=1, runs the TypeScript sources through
// tsx's CommonJS hook, which is slower to start (seconds) but needs no build step. EBB_FROM_SOURCE=0
// runs dist/ whatever its age (the CLI benchmark, while others edit the sources).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
// The folders tsconfig.build.json compiles.
const SOURCE_DIRS = [
  'workflows',
  'activities',
  'workers',
  'config',
  'connectors',
  'state',
  'cli',
  'sandbox',
  'observability',
];

function builtAt() {
  try {
    return Number(fs.readFileSync(path.join(ROOT, 'dist', '.built-at'), 'utf8'));
  } catch {
    return 0;
  }
}

function changedSince(dir, time) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (changedSince(file, time)) return true;
    } else if (entry.name.endsWith('.ts') && fs.statSync(file).mtimeMs > time) return true;
  }
  return false;
}

function distIsCurrent() {
  const time = builtAt();
  if (!time || process.env.EBB_FROM_SOURCE === '1') return false;
  if (process.env.EBB_FROM_SOURCE === '0') return true;
  const inputs = ['tsconfig.json', 'tsconfig.build.json'].map((f) => path.join(ROOT, f));
  if (inputs.some((f) => fs.statSync(f).mtimeMs > time)) return false;
  return !SOURCE_DIRS.some((dir) => changedSince(path.join(ROOT, dir), time));
}

const cli = distIsCurrent() ? require('../dist/cli/main.js') : fromSource();

function fromSource() {
  if (builtAt() && process.env.EBB_FROM_SOURCE !== '1' && process.stderr.isTTY)
    process.stderr.write(
      'ebb: dist/ is older than the sources, running them through tsx (`npm run build` to speed up)\n',
    );
  require('tsx/cjs');
  return require('../cli/main.ts');
}

cli.main(process.argv).then(cli.exitAfterOutput, () => cli.exitAfterOutput(70));
