/**
 * `npm run bench:state [-- --rows N] [-- --no-retention]`: how the SQLite state store grows with a
 * sync of N rows (100,000 by default): an initial sync, then 3 full resyncs, every record accepted.
 * Rows go through the state store's own API (stageBatch, recordBatchOutcomes, finishRun, then the
 * retention and space reclaiming the finish activity applies), with no Temporal and no destination:
 * what is measured is the store, not delivery.
 *
 * `--no-retention` shows the store as ebb kept it before retention: nothing pruned or reclaimed.
 *
 * Prints, after each run's staging, its delivery (its peak) and its finish: the file, the WAL and the free
 * pages inside the file; the bytes per stored row of each table (from SQLite's dbstat, indexes
 * included); and the size after the last resync against the size after the first sync (the issue's
 * target: at most 1.5x with the default retention).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { ebbConfigSchema } from '../config/schema';
import { pruneSync, reclaimSpace, storeSize, type StoreSize } from '../state/retention';
import { openStateStore, type StagedRecord, type StateStore } from '../state/state-store';

const SYNC = 'accounts-to-sf';
const BATCH = 200;
const MB = 1024 * 1024;

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    'no-retention': { type: 'boolean', default: false },
    dir: { type: 'string' },
  },
});
const ROWS = Number(args.rows);
if (!Number.isInteger(ROWS) || ROWS < 1) throw new Error(`--rows takes a positive whole number, not '${args.rows}'`);
const RETENTION = !args['no-retention'];
// The default retention, as an ebb.yaml without `state.retention` gets it.
const policy = ebbConfigSchema.parse({}).state.retention;

/** A mapped Salesforce Account like the demo's: about 130 bytes of JSON. */
function payload(i: number, run: number) {
  return {
    External_Id__c: `acct-${String(i).padStart(7, '0')}`,
    Name: `Account ${i} Holdings Ltd`,
    Health_Score__c: (i * 7 + run) % 100,
    Segment__c: ['enterprise', 'mid-market', 'smb', 'at-risk'][i % 4],
    MRR__c: `${(i % 5000) * 10}.50`,
  };
}

const sha256 = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex');
/** An 18-character Salesforce record id. */
const sfId = (i: number) => `001${String(i).padStart(15, '0')}`;

async function tableBytes(store: StateStore): Promise<Record<string, { bytes: number; rows: number }>> {
  const { rows } = await sql<{ name: string; tbl_name: string; bytes: number }>`
    select m.tbl_name, sum(s.pgsize) as bytes
    from dbstat s join sqlite_master m on m.name = s.name
    group by m.tbl_name`.execute(store.db);
  const out: Record<string, { bytes: number; rows: number }> = {};
  for (const r of rows) {
    if (!['record_results', 'snapshots', 'staged_records', 'runs', 'batches'].includes(r.tbl_name)) continue;
    const { rows: counted } = await sql<{ n: number }>`select count(*) as n from ${sql.table(r.tbl_name)}`.execute(
      store.db,
    );
    out[r.tbl_name] = { bytes: Number(r.bytes), rows: Number(counted[0]?.n ?? 0) };
  }
  return out;
}

interface Measure {
  label: string;
  size: StoreSize;
  tables: Record<string, { bytes: number; rows: number }>;
  seconds: number;
}

async function measure(store: StateStore, label: string, started: number): Promise<Measure> {
  const m = {
    label,
    size: await storeSize(store),
    tables: await tableBytes(store),
    seconds: (performance.now() - started) / 1000,
  };
  const t = (name: string) => {
    const table = m.tables[name];
    return table && table.rows ? `${name} ${table.rows} rows x ${Math.round(table.bytes / table.rows)} B` : '';
  };
  console.log(
    [
      label.padEnd(28),
      `file ${(m.size.bytes / MB).toFixed(1)} MB`.padEnd(16),
      `wal ${(m.size.walBytes / MB).toFixed(1)} MB`.padEnd(15),
      `free ${(m.size.freeBytes / MB).toFixed(1)} MB`.padEnd(16),
      `${m.seconds.toFixed(1)} s`.padEnd(9),
      [t('staged_records'), t('record_results'), t('snapshots')].filter(Boolean).join(', '),
    ].join(' '),
  );
  return m;
}

async function syncRun(store: StateStore, run: number): Promise<Measure[]> {
  const started = performance.now();
  const runNumber = await store.allocateRun({
    syncId: SYNC,
    kind: run === 1 ? 'incremental' : 'full',
    requestId: `bench-${run}`,
  });
  let batches = 0;
  for (let from = 0; from < ROWS; from += BATCH) {
    const records: StagedRecord[] = [];
    for (let i = from; i < Math.min(ROWS, from + BATCH); i++) {
      const p = payload(i, run);
      records.push({
        key: p.External_Id__c,
        operation: 'upsert',
        hash: sha256(p),
        payload: p,
        destinationId: run === 1 ? null : sfId(i),
        cursorValue: null,
      });
    }
    await store.stageBatch(SYNC, runNumber, ++batches, records);
  }
  await store.setRunPlanned(SYNC, runNumber, {
    ...{ added: run === 1 ? ROWS : 0, changed: run === 1 ? 0 : ROWS, removed: 0, unchanged: 0, invalid: 0 },
    ...{ batches, cursorFrom: null, cursorTo: null },
  });
  const label = run === 1 ? 'initial sync' : `full resync ${run - 1}`;
  const staged = await measure(store, `${label}: staged`, started);
  for (let batch = 1; batch <= batches; batch++) {
    const records = await store.readBatch(SYNC, runNumber, batch);
    await store.recordBatchOutcomes({
      syncId: SYNC,
      runNumber,
      batchNumber: batch,
      attempt: 1,
      results: records.map((r, j) => ({
        key: r.key,
        operation: 'upsert',
        status: 'succeeded',
        destinationId: sfId((batch - 1) * BATCH + j),
        errorCode: null,
        errorMessage: null,
        hash: r.hash,
      })),
    });
  }
  const delivered = await measure(store, `${label}: delivered`, started);
  // The finish activity's steps, timed apart: each is one synchronous stretch of a worker.
  const lap = (() => {
    let at = performance.now();
    return () => {
      const seconds = (performance.now() - at) / 1000;
      at = performance.now();
      return `${seconds.toFixed(1)} s`;
    };
  })();
  await store.finishRun(SYNC, runNumber, 'succeeded', null);
  const closed = lap();
  if (RETENTION) {
    const pruned = await pruneSync(store, SYNC, policy);
    const pruning = lap();
    await reclaimSpace(store);
    console.log(
      `  finish: run closed and staged rows dropped ${closed}, ${pruned.resultsDeleted} results pruned ${pruning}, space reclaimed ${lap()}`,
    );
  }
  return [staged, delivered, await measure(store, `${label}: finished`, started)];
}

async function main(): Promise<void> {
  const dir = args.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-state-growth-'));
  const file = path.join(dir, 'state.sqlite');
  fs.rmSync(file, { force: true });
  console.log(
    `state store growth: ${ROWS.toLocaleString('en-US')} rows, initial sync + 3 full resyncs, ${
      RETENTION
        ? `retention ${JSON.stringify(policy)} (the default)`
        : 'as before retention: nothing pruned or reclaimed'
    }; ${os.cpus().length} cores, SQLite at ${file}\n`,
  );
  const store = await openStateStore({ path: file });
  try {
    const all: Measure[] = [];
    for (let run = 1; run <= 4; run++) all.push(...(await syncRun(store, run)));
    const finished = all.filter((m) => m.label.endsWith('finished'));
    const total = (m: Measure) => m.size.bytes + m.size.walBytes;
    const first = finished[0] as Measure;
    const last = finished[finished.length - 1] as Measure;
    const peak = Math.max(...all.map(total));
    const perRow = (name: string) => {
      const t = all.map((m) => m.tables[name]).find((x) => x && x.rows > 0);
      return t ? Math.round(t.bytes / t.rows) : 0;
    };
    console.log(
      `\nbytes per row (table + its indexes): record result ${perRow('record_results')}, snapshot ${perRow('snapshots')}, staged row ${perRow('staged_records')}, batch ${perRow('batches')}, run ${perRow('runs')}`,
    );
    console.log(
      `after the first sync ${(total(first) / MB).toFixed(1)} MB, after 3 full resyncs ${(total(last) / MB).toFixed(1)} MB: ${(total(last) / total(first)).toFixed(2)}x (target <= 1.5x); peak while staged ${(peak / MB).toFixed(1)} MB`,
    );
  } finally {
    await store.close();
    if (!args.dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
