/**
 * plan: streams the model, maps and hashes each row, compares it with the snapshot of the last
 * accepted delivery and stages what must be sent in numbered batches. Returns counts only.
 *
 * Memory holds one source chunk and one batch at a time, whatever the model size. Re-executing the
 * plan (after a crash) first clears what an earlier attempt staged, so it is idempotent.
 */
import { budgetPrefersBulk } from './api-budget-plan';
import { ConfigError } from '../config/config-problem';
import { checkConfigAgainstWarehouse } from './check-model-columns';
import { openSource } from '../connectors/sources/registry';
import { deliveryShape, type Row } from '../connectors/destinations/destination';
import type { BulkIngest } from '../connectors/destinations/bulk-ingest';
import type { StagedRecord, StateStore } from '../state/state-store';
import type { PlannedRun, RunInput } from '../workflows/definitions';
import { deliveryTaskQueue, type DestinationPool, type EngineContext } from './engine-context';
import { buildModelQuery, filteredModelQuery } from '../connectors/sources/model-query';
import { KEY_COLUMN, ROW_HASH_COLUMN, WarehouseDiff } from '../connectors/sources/warehouse-diff';
import { recordHash } from './record-hash';
import { fieldHashes, parseFieldHashes, writtenFields } from './changed-fields';
import { DeletionGuardError, checkDeletionGuard, type DeletionGuardVerdict } from './deletion-guard';

export type PlanResult = PlannedRun;

const CHUNK_SIZE = 1000;

/** Staged deletes carry this row hash so that `finish` removes their key from the warehouse's snapshot. */
export const DELETED_ROW = '';

/**
 * The model's columns as the config check described them. A model whose SQL does not run fails that
 * check, so they are always there; hashing no columns would hide every change, hence the throw.
 */
function describedColumns(columnsByModel: Record<string, string[]>, model: string): string[] {
  const columns = columnsByModel[model];
  if (!columns) throw new Error(`model '${model}' was not described before its plan; this is a bug in ebb`);
  return columns;
}

/** Separates the warehouse diff's own columns from the model's row. */
function splitDiffColumns(diffed: Row): { row: Row; key: string | null; rowHash: string | null } {
  const { [KEY_COLUMN]: key, [ROW_HASH_COLUMN]: rowHash, ...row } = diffed;
  return { row, key: key == null ? null : String(key), rowHash: rowHash == null ? null : String(rowHash) };
}

/** The model's rows could not be read to the end (non-retryable, like the SourceError it stands for). */
export class ModelReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelReadError';
  }
}

interface InvalidRecord {
  key: string;
  errorCode: string;
  errorMessage: string;
}

export interface PlanSample {
  key: string;
  operation: 'add' | 'change' | 'remove';
  /** What the run would send: with changed fields only, an update's key and changed fields. */
  payload: Record<string, unknown>;
  /** The fields it would write, besides the key the destination matches by (destinations with partial updates). */
  fields?: string[];
}

export interface PlanOptions {
  /** `ebb plan`: count and sample, stage nothing, contact no destination. */
  dryRun?: boolean;
  samples?: number;
  /** Called after each source chunk with the rows read so far (the activity heartbeats there). */
  onProgress?: (rowsRead: number) => void;
}

/** Collects staged records into batches of the destination's size and writes each as it fills. */
class BatchWriter {
  private buffer: StagedRecord[] = [];
  batches = 0;
  /** Staged records that need a request: upserts, and deletes of records the destination holds. */
  readonly toSend = { upserts: 0, deletes: 0 };
  constructor(
    private readonly store: StateStore,
    private readonly syncId: string,
    private readonly runNumber: number,
    private readonly batchSize: number,
    private readonly dryRun: boolean,
    private readonly maybeSent: boolean,
  ) {}
  async add(record: StagedRecord): Promise<void> {
    this.buffer.push(record);
    if (record.operation === 'upsert') this.toSend.upserts++;
    else if (record.destinationId !== null) this.toSend.deletes++;
    if (this.buffer.length >= this.batchSize) await this.flush();
  }
  async flush(): Promise<void> {
    if (!this.buffer.length) return;
    this.batches++;
    if (!this.dryRun)
      await this.store.stageBatch(this.syncId, this.runNumber, this.batches, this.buffer, this.maybeSent);
    this.buffer = [];
  }
}

export async function planRun(
  ctx: EngineContext,
  pool: DestinationPool,
  input: RunInput,
  options: PlanOptions = {},
): Promise<
  PlanResult & {
    samples: PlanSample[];
    deletionGuard: DeletionGuardVerdict | null;
    /** The staged records that need a request, for `ebb plan`'s estimate of the bulk path's cost. */
    toSend: { upserts: number; deletes: number };
  }
> {
  const dryRun = options.dryRun ?? false;
  const samples: PlanSample[] = [];
  const sample = (s: PlanSample) => {
    if (dryRun && samples.length < (options.samples ?? 3)) samples.push(s);
  };
  const { syncId, runNumber, kind } = input;
  const { store } = ctx;
  const resolved = pool.resolve(syncId);
  const { sync, model, source: sourceConfig } = resolved;
  // A mapping of a column the model does not select would silently send nulls: fail the run instead.
  const { problems: configProblems, columnsByModel } = await checkConfigAgainstWarehouse(ctx.config, ctx.baseDir, {
    syncId,
    unreachable: 'throw',
  });
  if (configProblems.length) throw new ConfigError(`ebb.yaml (sync '${syncId}')`, configProblems);
  // Fatal destination problems (credentials, unknown object or field) fail the run before anything is staged.
  const destination = await pool.get(syncId, { checked: !dryRun });
  await store.clearPlan(syncId, runNumber);

  const replayOfRun =
    kind === 'replay'
      ? (input.replayOfRun ?? (await store.latestRun(syncId, { withFailures: true }))?.run_number ?? null)
      : null;
  const useCursor = sync.changeDetection === 'cursor' && kind === 'incremental' && model.cursor !== undefined;
  const cursorFrom = useCursor ? await store.getCursor(syncId) : null;
  const sql = buildModelQuery({
    modelSql: model.sql,
    primaryKey: model.primaryKey,
    filter: sync.filter,
    cursor: useCursor && model.cursor ? { column: model.cursor, after: cursorFrom } : undefined,
  });

  const counts = { added: 0, changed: 0, removed: 0, unchanged: 0, invalid: 0 };
  let cursorTo: string | null = cursorFrom;
  const writer = new BatchWriter(
    store,
    syncId,
    runNumber,
    deliveryShape(destination.limits).recordsPerDelivery,
    dryRun,
    !dryRun && (await store.hasUnrecordedDeliveries(syncId, runNumber)),
  );
  const mirror = sync.mode === 'mirror' && kind !== 'replay';
  // Changed fields only (changed-fields.ts): a full resync sends every field, as its name promises.
  const partialKeys = destination.partialUpdateKeys;
  const changedFieldsOnly = partialKeys !== undefined && sync.changedFieldsOnly !== false && kind !== 'full';
  let invalid: InvalidRecord[] = [];
  /** A row that cannot be sent still counts as an add or a change, so the counts add up (run-outcome.ts). */
  const addInvalid = (record: InvalidRecord, delivered: boolean): void => {
    invalid.push(record);
    if (delivered) counts.changed++;
    else counts.added++;
  };
  const flushInvalid = async (): Promise<void> => {
    if (!invalid.length) return;
    counts.invalid += invalid.length;
    if (dryRun) {
      invalid = [];
      return;
    }
    await store.recordBatchOutcomes({
      syncId,
      runNumber,
      batchNumber: null,
      attempt: 1,
      results: invalid.map((r) => ({ ...r, operation: 'upsert', status: 'failed', destinationId: null, hash: null })),
    });
    invalid = [];
  };
  const source = openSource(sourceConfig, { name: model.source, baseDir: ctx.baseDir });
  // Warehouse-side diff (warehouse-diff.ts) for incremental and full runs in diff mode. With
  // `changedOnly`, unchanged rows never leave the warehouse; without it (a full resync, or a
  // snapshot table still empty while ebb has delivered before) every row is read and compared here.
  // Not for destinations that store keys hashed (recordKey): the warehouse's table holds keys as they are.
  const diff =
    source.snapshots && kind !== 'replay' && !useCursor && !destination.recordKey
      ? new WarehouseDiff(source, syncId, {
          modelSql: filteredModelQuery({ modelSql: model.sql, filter: sync.filter }),
          primaryKey: model.primaryKey,
          columns: describedColumns(columnsByModel, sync.model),
        })
      : null;
  let changedOnly = false;
  /** Rows read whose mapped record is unchanged: their warehouse hash joins the snapshot table now. */
  let catchUp: Array<{ key: string; rowHash: string }> = [];
  const flushCatchUp = async (): Promise<void> => {
    if (diff && !dryRun && catchUp.length) await diff.save(catchUp);
    catchUp = [];
  };
  /** Mirror mode finds removed keys by an anti-join on the keys this run saw, unless the warehouse does it. */
  let trackSeen = mirror;

  /** Set by a dry run whose deletes the guard would stop; a real run throws instead. */
  let deletionGuard: DeletionGuardVerdict | null = null;
  /** Called with a mirror run's deletes once they are known and before any is delivered (DESIGN.md invariant 8). */
  const guardDeletes = async (deletes: number): Promise<void> => {
    if (deletes === 0 || input.allowDeletes) return;
    const delivered = await store.countSnapshots(syncId);
    const verdict = checkDeletionGuard(syncId, { setting: sync.maxDeletes, deletes, delivered });
    if (!verdict) return;
    if (dryRun) {
      deletionGuard = verdict;
      return;
    }
    // Whatever this plan staged goes too (upserts, invalid rows): a run that would wrongly delete
    // comes from a model that is wrong, so nothing of it is sent.
    await store.clearPlan(syncId, runNumber);
    throw new DeletionGuardError(verdict);
  };

  let rowIndex = 0;
  let nullKeys = 0;
  // Rows come ordered by key: a key is final once the next row has another key.
  type HeldRow = { key: string; row: Row; rowHash: string | null };
  let held: (HeldRow & { count: number }) | null = null;
  let pending: HeldRow[] = [];

  const processPending = async (): Promise<void> => {
    const rows = pending;
    pending = [];
    if (!rows.length) return;
    const keys = rows.map((r) => r.key);
    if (trackSeen) await store.markSeen(syncId, runNumber, keys);
    const onlyKeys = replayOfRun !== null ? await store.failedKeysAmong(syncId, replayOfRun, keys) : null;
    const snapshots = await store.snapshotsFor(syncId, keys);
    for (const { key, row, rowHash } of rows) {
      if (onlyKeys && !onlyKeys.has(key)) continue;
      const snapshot = snapshots.get(key);
      let payload: Record<string, unknown>;
      try {
        payload = destination.prepare(row).payload;
      } catch (err) {
        const e = err as { errorCode?: string; message?: string };
        addInvalid(
          { key, errorCode: e.errorCode ?? 'PREPARATION_FAILED', errorMessage: e.message ?? String(err) },
          snapshot !== undefined,
        );
        continue;
      }
      const hash = recordHash(payload);
      const cursorValue = model.cursor !== undefined && row[model.cursor] != null ? String(row[model.cursor]) : null;
      if (cursorValue !== null && (cursorTo === null || cursorValue > cursorTo)) cursorTo = cursorValue;
      if (snapshot && snapshot.hash === hash && kind === 'incremental') {
        counts.unchanged++;
        if (rowHash !== null) catchUp.push({ key, rowHash });
        continue;
      }
      if (sync.mode === 'insert' && snapshot) {
        // Insert mode never modifies a record it created: a changed row is left alone, as unchanged.
        counts.unchanged++;
        continue;
      }
      if (!snapshot) counts.added++;
      else counts.changed++;
      const written =
        partialKeys === undefined
          ? null
          : writtenFields(payload, {
              previous: changedFieldsOnly && snapshot ? parseFieldHashes(snapshot.fieldHashes) : null,
              keep: partialKeys,
            });
      sample({
        key,
        operation: snapshot ? 'change' : 'add',
        payload: written?.payload ?? payload,
        ...(written ? { fields: written.fields } : {}),
      });
      await writer.add({
        key,
        operation: 'upsert',
        // The whole payload's hash and field hashes: the snapshot stands for every field, sent or not.
        hash,
        payload: written?.payload ?? payload,
        fieldHashes: partialKeys === undefined ? null : fieldHashes(payload),
        destinationId: snapshot?.destinationId ?? null,
        cursorValue,
        rowHash,
      });
    }
    if (catchUp.length >= CHUNK_SIZE) await flushCatchUp();
  };

  const release = async (h: HeldRow & { count: number }): Promise<void> => {
    if (h.count > 1) {
      const delivered = (await store.snapshotsFor(syncId, [h.key])).has(h.key);
      addInvalid(
        {
          key: h.key,
          errorCode: 'DUPLICATE_PRIMARY_KEY',
          errorMessage: `model '${sync.model}' returned ${h.count} rows with ${model.primaryKey} = '${h.key}'; none of them was sent (make the primary key unique)`,
        },
        delivered,
      );
      if (trackSeen) await store.markSeen(syncId, runNumber, [h.key]);
      return;
    }
    pending.push({ key: h.key, row: h.row, rowHash: h.rowHash });
    if (pending.length >= CHUNK_SIZE) await processPending();
  };

  /** Mirror mode with the warehouse diff: the warehouse names the keys that left the model. */
  const stageWarehouseRemovals = async (warehouse: WarehouseDiff): Promise<void> => {
    for await (const gone of warehouse.removedKeys(500)) {
      const snapshots = await store.snapshotsFor(syncId, gone);
      // A key the warehouse remembers but ebb never saw accepted has nothing to delete.
      const orphans = gone.filter((key) => !snapshots.has(key));
      if (orphans.length && !dryRun) await warehouse.remove(orphans);
      for (const key of gone) {
        const snapshot = snapshots.get(key);
        if (!snapshot) continue;
        counts.removed++;
        sample({ key, operation: 'remove', payload: {} });
        await writer.add({
          key,
          operation: 'delete',
          hash: snapshot.hash,
          payload: {},
          destinationId: snapshot.destinationId,
          cursorValue: null,
          rowHash: DELETED_ROW,
        });
      }
      options.onProgress?.(rowIndex);
    }
  };

  try {
    // A replay with no earlier failed run has nothing to send: the model is not read at all.
    const nothingToReplay = kind === 'replay' && replayOfRun === null;
    if (diff) {
      await diff.prepare();
      changedOnly = kind === 'incremental' && ((await diff.count()) > 0 || !(await store.hasSnapshots(syncId)));
      trackSeen = mirror && !changedOnly;
      // Counted before this plan saves any snapshot, so no row is counted twice.
      if (changedOnly) counts.unchanged += await diff.unchangedCount();
      // The warehouse names the removed keys without the model's rows: staged first, so that the
      // guard stops a run before the model is read (deletes and upserts touch different keys).
      if (mirror && changedOnly) {
        await stageWarehouseRemovals(diff);
        await guardDeletes(counts.removed);
      }
    }
    const label = `ebb:${syncId}:${runNumber}`;
    const rows = nothingToReplay
      ? []
      : diff
        ? diff.rows({ changedOnly, chunkSize: CHUNK_SIZE, label })
        : source.stream({ sql, chunkSize: CHUNK_SIZE, label });
    for await (const chunk of rows) {
      for (const diffedRow of chunk) {
        rowIndex++;
        const {
          row,
          key: diffKey,
          rowHash,
        } = diff ? splitDiffColumns(diffedRow) : { row: diffedRow, key: null, rowHash: null };
        const value = row[model.primaryKey];
        if (value === null || value === undefined || value === '') {
          if (kind !== 'replay') {
            nullKeys++;
            addInvalid(
              {
                key: `<null ${model.primaryKey} #${nullKeys}>`,
                errorCode: 'NULL_PRIMARY_KEY',
                errorMessage: `model '${sync.model}' returned a row with a null ${model.primaryKey} (row ${rowIndex} in key order); it was not sent`,
              },
              false,
            );
          }
          continue;
        }
        // With the warehouse diff, the warehouse's text form of the key is the key, so both agree.
        const key = diffKey ?? destination.recordKey?.(String(value)) ?? String(value);
        if (held && held.key === key) {
          held.count++;
          continue;
        }
        if (held) await release(held);
        held = { key, row, rowHash, count: 1 };
      }
      if (invalid.length >= CHUNK_SIZE) await flushInvalid();
      options.onProgress?.(rowIndex);
    }
    if (held) await release(held);
    await processPending();
    await flushCatchUp();
  } catch (err) {
    if (!(err instanceof Error) || err.name !== 'SourceError' || dryRun) throw err;
    // A warehouse error while reading rows may quote a value ("could not convert 'Acme' ..."): keep
    // its text in the state store and send only a pointer to it into workflow history.
    await store.setRunErrorDetail(syncId, runNumber, err.message);
    throw new ModelReadError(
      `model '${sync.model}' failed after ${rowIndex} rows were read; the warehouse's message is kept out of workflow history: see \`ebb runs ${syncId}\``,
    );
  } finally {
    await source.close();
  }

  if (trackSeen) {
    // Counted before any is staged; upserts already staged are cleared if the guard stops the run.
    await guardDeletes(await store.countUnseenSnapshots(syncId, runNumber));
    let after: string | null = null;
    for (;;) {
      const gone = await store.unseenSnapshots(syncId, runNumber, after, 500);
      if (!gone.length) break;
      for (const s of gone) {
        counts.removed++;
        sample({ key: s.key, operation: 'remove', payload: {} });
        await writer.add({
          key: s.key,
          operation: 'delete',
          hash: s.hash,
          payload: {},
          destinationId: s.destination_id,
          cursorValue: null,
          rowHash: diff ? DELETED_ROW : null,
        });
      }
      after = gone[gone.length - 1]?.key ?? null;
      options.onProgress?.(rowIndex);
    }
  }
  await writer.flush();

  await flushInvalid();
  if (dryRun) {
    await store.clearPlan(syncId, runNumber);
  } else {
    await store.setRunPlanned(syncId, runNumber, { ...counts, batches: writer.batches, cursorFrom, cursorTo });
  }
  // The connection's apiBudget may call for Bulk below its threshold (api-budget-plan.ts).
  const delivery =
    deliveryPath(destination.bulk, writer.toSend) === 'bulk' ||
    (await budgetPrefersBulk({
      store,
      destination: resolved.destination,
      sending: destination,
      toSend: writer.toSend,
      batches: writer.batches,
    }))
      ? 'bulk'
      : 'collections';
  return {
    ...counts,
    batches: writer.batches,
    delivery,
    toSend: writer.toSend,
    rowsRead: rowIndex,
    deliveryTaskQueue: deliveryTaskQueue(ctx.taskQueue, resolved.destination.name),
    window: deliveryShape(destination.limits).window,
    samples,
    deletionGuard,
  };
}

/**
 * Bulk API 2.0 (activities/deliver-bulk.ts) for a run with at least the destination's threshold of
 * records to send; sObject Collections, batch by batch, otherwise and for destinations without it.
 */
export function deliveryPath(
  bulk: BulkIngest | undefined,
  toSend: { upserts: number; deletes: number },
): 'bulk' | 'collections' {
  const threshold = bulk?.threshold ?? null;
  const records = toSend.upserts + toSend.deletes;
  return threshold !== null && records > 0 && records >= threshold ? 'bulk' : 'collections';
}
