/**
 * How `ebb validate` scales with the size of ebb.yaml: generated configs (bench/generated-config.ts)
 * of growing size, valid and with mistakes in every sync, each checked in a fresh process so its
 * peak memory is its own. One line per size; time per sync should stay flat.
 *
 *   npx tsx bench/config-check.ts [--syncs 1000,4000,16000]    # 16,000 syncs is a 5 MB file
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../config/load-config';
import { generatedConfig } from './generated-config';

function measureOne(file: string): void {
  const source = fs.readFileSync(file, 'utf8');
  const start = process.hrtime.bigint();
  const { problems } = parseConfig(source, { env: {} });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  process.stdout.write(
    JSON.stringify({ ms, problems: problems.length, peakRssMb: process.resourceUsage().maxRSS / 1024 }),
  );
}

function main(): void {
  const flag = process.argv.indexOf('--syncs');
  const sizes = (flag > 0 ? (process.argv[flag + 1] ?? '') : '1000,4000,16000').split(',').map(Number);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-config-bench-'));
  process.stdout.write('config check (parse, interpolate, schema, cross-references, connector options)\n');
  for (const syncs of sizes) {
    for (const mistakes of [false, true]) {
      const file = path.join(dir, `ebb-${syncs}-${mistakes ? 'mistakes' : 'valid'}.yaml`);
      fs.writeFileSync(file, generatedConfig({ syncs, mistakes }));
      const output = execFileSync(process.execPath, [...process.execArgv, __filename, '--measure', file], {
        encoding: 'utf8',
      });
      const { ms, problems, peakRssMb } = JSON.parse(output) as { ms: number; problems: number; peakRssMb: number };
      const size = `${(fs.statSync(file).size / 1e6).toFixed(2)} MB`;
      process.stdout.write(
        `  ${String(syncs).padStart(6)} syncs ${mistakes ? 'with mistakes' : 'valid        '} ${size.padStart(8)}: ` +
          `${(ms / 1000).toFixed(2)} s (${((ms * 1000) / syncs).toFixed(0)} µs per sync), ${problems} problems, peak RSS ${peakRssMb.toFixed(0)} MB\n`,
      );
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

if (process.argv[2] === '--measure') measureOne(process.argv[3] ?? '');
else main();
