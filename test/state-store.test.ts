/**
 * The state store's guarantees, run against every backend: SQLite always, PostgreSQL when
 * EBB_TEST_POSTGRES_URL points at a server whose role may create databases (.ci/run sets it up).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { openStateStore, type StagedRecord, type StateStore } from '../state/state-store';

interface Backend {
  name: string;
  open(): Promise<{ store: StateStore; reopen(): Promise<StateStore>; drop(): Promise<void> }>;
}

const sqlite: Backend = {
  name: 'sqlite',
  async open() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-state-'));
    const file = path.join(dir, 'state.sqlite');
    return {
      store: await openStateStore({ path: file }),
      reopen: () => openStateStore({ path: file }),
      drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  },
};

const postgres = (adminUrl: string): Backend => ({
  name: 'postgres',
  async open() {
    const db = `ebb_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const admin = new PgClient({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`create database ${db}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${db}`;
    return {
      store: await openStateStore({ url: url.toString() }),
      reopen: () => openStateStore({ url: url.toString() }),
      drop: async () => {
        const c = new PgClient({ connectionString: adminUrl });
        await c.connect();
        await c.query(`drop database if exists ${db} with (force)`);
        await c.end();
      },
    };
  },
});

const BACKENDS = [sqlite, ...(process.env.EBB_TEST_POSTGRES_URL ? [postgres(process.env.EBB_TEST_POSTGRES_URL)] : [])];

const staged = (key: string, hash = `h-${key}`): StagedRecord => ({
  key,
  operation: 'upsert',
  hash,
  payload: { External_Id__c: key },
  destinationId: null,
  cursorValue: null,
});

describe.each(BACKENDS)('the $name state store', (backend) => {
  let store: StateStore;
  let handle: Awaited<ReturnType<Backend['open']>>;

  beforeEach(async () => {
    handle = await backend.open();
    store = handle.store;
  });
  afterEach(async () => {
    await store.close();
    await handle.drop();
  });

  test('opening an already migrated store again changes nothing and keeps the data', async () => {
    await store.allocateRun({ syncId: 's', kind: 'incremental', requestId: 'r1' });
    const again = await handle.reopen();
    expect(await again.listRuns('s')).toHaveLength(1);
    await again.close();
  });

  test('run numbers grow per sync, and a re-executed allocation of the same request finds its run', async () => {
    expect(await store.allocateRun({ syncId: 'a', kind: 'incremental', requestId: 'r1' })).toBe(1);
    expect(await store.allocateRun({ syncId: 'a', kind: 'incremental', requestId: 'r1' })).toBe(1);
    expect(await store.allocateRun({ syncId: 'a', kind: 'full', requestId: 'r2' })).toBe(2);
    expect(await store.allocateRun({ syncId: 'b', kind: 'incremental', requestId: 'r3' })).toBe(1);
  });

  test('recording a batch twice keeps one result per record, and only accepted records get a snapshot', async () => {
    const run = await store.allocateRun({ syncId: 's', kind: 'incremental', requestId: 'r' });
    await store.stageBatch('s', run, 1, [staged('k1'), staged('k2')]);
    const results = [
      {
        key: 'k1',
        operation: 'upsert' as const,
        status: 'succeeded' as const,
        destinationId: '001A',
        errorCode: null,
        errorMessage: null,
        hash: 'h-k1',
      },
      {
        key: 'k2',
        operation: 'upsert' as const,
        status: 'failed' as const,
        destinationId: null,
        errorCode: 'STRING_TOO_LONG',
        errorMessage: 'too long',
        hash: null,
      },
    ];
    await store.recordBatchOutcomes({ syncId: 's', runNumber: run, batchNumber: 1, attempt: 1, results });
    await store.recordBatchOutcomes({ syncId: 's', runNumber: run, batchNumber: 1, attempt: 2, results });

    expect(await store.listRecordResults('s', { runNumber: run })).toHaveLength(2);
    expect(await store.batchOutcome('s', run, 1)).toEqual({ succeeded: 1, failed: 1 });
    const snapshots = await store.snapshotsFor('s', ['k1', 'k2']);
    expect([...snapshots.keys()]).toEqual(['k1']);
    expect(snapshots.get('k1')).toEqual({ hash: 'h-k1', destinationId: '001A', fieldHashes: null });

    const finished = await store.finishRun('s', run, 'succeeded', null);
    expect(finished).toMatchObject({ succeeded: 1, failed: 1, status: 'succeeded' });
    expect(await store.readBatch('s', run, 1)).toEqual([]);
  });

  test('mirror mode finds the snapshot keys a plan did not see, a page at a time', async () => {
    const run = await store.allocateRun({ syncId: 's', kind: 'incremental', requestId: 'r' });
    const accepted = ['a', 'b', 'c', 'd'].map((key) => ({
      key,
      operation: 'upsert' as const,
      status: 'succeeded' as const,
      destinationId: key.toUpperCase(),
      errorCode: null,
      errorMessage: null,
      hash: `h-${key}`,
    }));
    await store.recordBatchOutcomes({ syncId: 's', runNumber: run, batchNumber: null, attempt: 1, results: accepted });
    await store.markSeen('s', run + 1, ['b', 'd']);

    const page1 = await store.unseenSnapshots('s', run + 1, null, 1);
    const page2 = await store.unseenSnapshots('s', run + 1, page1[0]?.key ?? null, 5);
    expect([...page1, ...page2].map((r) => [r.key, r.destination_id])).toEqual([
      ['a', 'A'],
      ['c', 'C'],
    ]);
  });

  test('a batch attempted by an earlier run without a recorded outcome marks later deliveries as possibly sent', async () => {
    const first = await store.allocateRun({ syncId: 's', kind: 'incremental', requestId: 'r1' });
    await store.stageBatch('s', first, 1, [staged('k1')]);
    expect(await store.countBatchAttempt('s', first, 1)).toEqual({ attempts: 1, maybeSent: false });
    expect(await store.countBatchAttempt('s', first, 1)).toEqual({ attempts: 2, maybeSent: true });
    const second = await store.allocateRun({ syncId: 's', kind: 'incremental', requestId: 'r2' });
    expect(await store.hasUnrecordedDeliveries('s', second)).toBe(true);
    expect(await store.hasUnrecordedDeliveries('other', second)).toBe(false);
  });

  test('cursors are kept per sync and overwritten', async () => {
    expect(await store.getCursor('s')).toBeNull();
    await store.setCursor('s', '2025-01-01T00:00:00.000Z');
    await store.setCursor('s', '2025-02-01T00:00:00.000Z');
    expect(await store.getCursor('s')).toBe('2025-02-01T00:00:00.000Z');
  });
});
