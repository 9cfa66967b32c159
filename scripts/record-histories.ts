/**
 * `npx tsx scripts/record-histories.ts <dir> [scenario...]`: runs the engine's typical scenarios against a fresh
 * Temporal dev server and writes each controller's and run's event history to `<dir>/<scenario>.json`.
 * test/workflow-replay.test.ts replays the committed ones (test/histories/) against the current
 * workflow code, so a change that would break workflows already running in production fails CI.
 * Record new histories when the workflows gain a behaviour worth guarding; never edit old ones.
 *
 * Histories carry ids and counts only (DESIGN.md invariant 3), so they are safe to commit.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { execDuckDb, updateDemoAccounts } from '../sandbox/warehouse/demo-warehouse';
import { startDevServer } from '../sandbox/temporal-dev-server';
import { startEngine, type EngineHarness } from '../test/harness/engine';
import { salesforceSyncYaml } from '../test/harness/sync-yaml';

const LONG_NAME = `Acme ${'Overly Long Company Name '.repeat(4)}`;

const sfSync = (id: string, extra = '') => salesforceSyncYaml(id, { extra });

interface Scenario {
  name: string;
  generated?: number;
  salesforceLimits?: string;
  extra?: string;
  play(engine: EngineHarness, sync: string): Promise<number[]>;
}

const scenarios: Scenario[] = [
  {
    name: 'first-run-then-no-op',
    async play(engine, sync) {
      const first = await engine.run(sync);
      const second = await engine.run(sync);
      return [first.runNumber, second.runNumber];
    },
  },
  {
    name: 'failed-record-full-resync-and-replay',
    async play(engine, sync) {
      await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', name: LONG_NAME }]);
      const first = await engine.run(sync);
      const full = await engine.run(sync, { kind: 'full' });
      const replay = await engine.run(sync, { kind: 'replay' });
      return [first.runNumber, full.runNumber, replay.runNumber];
    },
  },
  {
    name: 'every-record-failed',
    generated: 0,
    extra: '\n    mode: update',
    async play(engine, sync) {
      return [(await engine.run(sync)).runNumber];
    },
  },
  {
    name: 'mirror-delete',
    generated: 10,
    extra: '\n    mode: mirror',
    async play(engine, sync) {
      const first = await engine.run(sync);
      await execDuckDb(engine.warehouse, "delete from account_health where account_id in ('acme', 'globex')");
      const second = await engine.run(sync);
      return [first.runNumber, second.runNumber];
    },
  },
  {
    // Bulk API 2.0 delivery (patched 'bulk-delivery'): an upsert job, then a mirror run's delete job.
    name: 'bulk-upsert-then-delete',
    generated: 20,
    extra: '\n    mode: mirror\n    bulk: { above: 2, pollSeconds: 0.1 }',
    async play(engine, sync) {
      const first = await engine.run(sync);
      await execDuckDb(engine.warehouse, "delete from account_health where account_id in ('acme', 'globex')");
      const second = await engine.run(sync);
      return [first.runNumber, second.runNumber];
    },
  },
  {
    name: 'many-batches-continue-as-new',
    generated: 400,
    salesforceLimits: '{ batchSize: 2, maxConcurrency: 4, requestsPerSecond: 500 }',
    async play(engine, sync) {
      return [(await engine.run(sync)).runNumber];
    },
  },
];

async function historiesOf(client: Client, sync: string, runs: number[]) {
  const out = [];
  for (const workflowId of [`sync/${sync}`, ...runs.map((n) => `sync/${sync}/run/${n}`)]) {
    const handle = client.workflow.getHandle(workflowId);
    out.push({ workflowId, history: await handle.fetchHistory() });
  }
  return out;
}

async function main(): Promise<void> {
  const outDir = path.resolve(process.argv[2] ?? 'test/histories');
  fs.mkdirSync(outDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-histories-'));
  const server = await startDevServer({
    dbFilename: path.join(tmp, 'temporal.db'),
    logFile: path.join(tmp, 'temporal.log'),
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 200 },
  });
  process.env.EBB_TEST_TEMPORAL_ADDRESS = server.address;
  try {
    const only = process.argv.slice(3);
    for (const scenario of scenarios.filter((s) => only.length === 0 || only.includes(s.name))) {
      const engine = await startEngine({
        generated: scenario.generated ?? 20,
        ...(scenario.salesforceLimits ? { salesforceLimits: scenario.salesforceLimits } : {}),
        syncsYaml: ({ suffix }) => sfSync(`sf-${suffix}`, scenario.extra),
      });
      try {
        const sync = `sf-${engine.suffix}`;
        const runs = await scenario.play(engine, sync);
        const histories = await historiesOf(engine.client, sync, runs);
        fs.writeFileSync(path.join(outDir, `${scenario.name}.json`), `${JSON.stringify(histories)}\n`);
        process.stdout.write(`${scenario.name}: ${histories.length} histories\n`);
      } finally {
        await engine.stop();
      }
    }
  } finally {
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
