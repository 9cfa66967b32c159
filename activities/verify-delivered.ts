/**
 * `ebb verify`: reads a sample of delivered records back from the destination and reports where
 * they drifted from what ebb sent (a CRM user's edit, a lost write, a record deleted by hand).
 *
 * The state store keeps a hash of each accepted payload, not the payload. The payload the
 * destination should hold is rebuilt from the model: a row whose `prepare()` payload hashes to the
 * snapshot's hash is exactly what the last accepted delivery sent. A row whose hash differs changed
 * in the warehouse since (or could not be prepared): the next run sends it, so it is `pending`, not
 * drift. Keys delivered but no longer in the model are outside the sample (the next mirror run
 * deletes them; other modes leave them).
 *
 * Memory holds one source chunk plus the sample, whatever the model size: the sample is a
 * reservoir of delivered rows, so each run of verify looks at another random part of a large sync.
 */
import { openSource } from '../connectors/sources/registry';
import { buildModelQuery } from '../connectors/sources/model-query';
import type { FieldDrift, Row } from '../connectors/destinations/destination';
import type { DestinationPool, EngineContext } from './engine-context';
import { recordHash } from './record-hash';
import { fieldsChangedSince, parseFieldHashes } from './changed-fields';

const CHUNK_SIZE = 1000;

/** The sync's destination has no `readBack`, so nothing can be compared. */
export class VerificationUnsupportedError extends Error {
  constructor(syncId: string, destinationType: string) {
    super(
      `sync '${syncId}' delivers to a ${destinationType} destination, which cannot read records back, so ebb cannot verify it; ` +
        'use `ebb records` to see what the destination accepted',
    );
    this.name = 'VerificationUnsupportedError';
  }
}

export interface VerifyReport {
  sync: string;
  /** Delivered records in the sample: every one is in exactly one of matching, missing, changed, pending. */
  verified: number;
  matching: number;
  /** Accepted by the destination earlier, absent now. */
  missing: Array<{ key: string; destinationId: string | null }>;
  /** Present with other values than ebb sent. */
  changed: Array<{ key: string; destinationId: string | null; fields: FieldDrift[] }>;
  /** Changed in the warehouse since the last accepted delivery: the next run sends them, so they are not compared. */
  pending: Array<{ key: string; reason: string }>;
  /**
   * CRM-side edits: fields stored with another value than ebb sent although their warehouse value did
   * not change since the last accepted delivery, so a person (or another integration) edited them in
   * the destination. Every field of a `changed` record is one; so are such fields of a `pending`
   * record, compared field by field when its snapshot has per-field hashes (changed-fields.ts). With
   * `changedFieldsOnly`, runs leave them as they are; a full resync overwrites them.
   */
  crmEdits: Array<{ key: string; destinationId: string | null; fields: FieldDrift[] }>;
}

interface SampledRow {
  key: string;
  row: Row | null;
  /** Set when the row cannot stand for what was delivered (a duplicated key). */
  problem: string | null;
  hash: string;
  destinationId: string | null;
  fieldHashes: string | null;
}

export async function verifyDelivered(
  ctx: EngineContext,
  pool: DestinationPool,
  input: { syncId: string; sample: number },
): Promise<VerifyReport> {
  const { syncId } = input;
  const { sync, model, source: sourceConfig, destination: destinationConfig } = pool.resolve(syncId);
  const destination = await pool.get(syncId, { checked: true });
  if (!destination.readBack) throw new VerificationUnsupportedError(syncId, destinationConfig.connection.type);

  const sample = await sampleDeliveredRows(ctx, {
    syncId,
    size: input.sample,
    source: { config: sourceConfig, name: model.source },
    // No cursor: verify looks at every delivered row, not only those changed since the last run.
    sql: buildModelQuery({ modelSql: model.sql, primaryKey: model.primaryKey, filter: sync.filter }),
    primaryKey: model.primaryKey,
    recordKey: destination.recordKey?.bind(destination),
  });

  const report: VerifyReport = {
    sync: syncId,
    verified: sample.length,
    matching: 0,
    missing: [],
    changed: [],
    pending: [],
    crmEdits: [],
  };
  /** `pending`: only the fields the warehouse did not change are read back, and drift there is a CRM-side edit. */
  const toRead: Array<{
    key: string;
    destinationId: string | null;
    payload: Record<string, unknown>;
    pending: boolean;
  }> = [];
  const keyFields = new Set(destination.partialUpdateKeys ?? []);
  for (const s of sample) {
    if (s.problem !== null || s.row === null) {
      report.pending.push({ key: s.key, reason: s.problem ?? 'no row' });
      continue;
    }
    let payload: Record<string, unknown>;
    try {
      payload = destination.prepare(s.row).payload;
    } catch (err) {
      report.pending.push({ key: s.key, reason: `cannot be prepared: ${(err as Error).message}` });
      continue;
    }
    if (recordHash(payload) !== s.hash) {
      report.pending.push({ key: s.key, reason: 'changed in the warehouse since the last accepted delivery' });
      const previous = parseFieldHashes(s.fieldHashes);
      if (!previous) continue;
      const changed = new Set(fieldsChangedSince(payload, previous));
      const unchanged = Object.fromEntries(Object.entries(payload).filter(([field]) => !changed.has(field)));
      if (Object.keys(unchanged).some((field) => !keyFields.has(field)))
        toRead.push({ key: s.key, destinationId: s.destinationId, payload: unchanged, pending: true });
      continue;
    }
    toRead.push({ key: s.key, destinationId: s.destinationId, payload, pending: false });
  }

  const batchSize = destination.limits.batchSize;
  for (let i = 0; i < toRead.length; i += batchSize) {
    const batch = toRead.slice(i, i + batchSize);
    const results = await destination.readBack(batch.map(({ pending: _pending, ...record }) => record));
    batch.forEach((record, j) => {
      const result = results[j];
      if (!result || result.key !== record.key) {
        throw new Error(`${destinationConfig.connection.type} readBack answered out of order for key '${record.key}'`);
      }
      if (record.pending) {
        // Counted as pending already; only its CRM-side edits are news.
        if (result.status === 'changed')
          report.crmEdits.push({ key: record.key, destinationId: record.destinationId, fields: result.fields });
      } else if (result.status === 'matches') report.matching++;
      else if (result.status === 'missing')
        report.missing.push({ key: record.key, destinationId: record.destinationId });
      else {
        const drift = { key: record.key, destinationId: record.destinationId, fields: result.fields };
        report.changed.push(drift);
        report.crmEdits.push(drift);
      }
    });
  }
  const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  report.missing.sort(byKey);
  report.changed.sort(byKey);
  report.pending.sort(byKey);
  report.crmEdits.sort(byKey);
  return report;
}

/**
 * Up to `size` model rows whose key has a snapshot, chosen uniformly (reservoir sampling, Vitter's
 * algorithm R) in one pass over the model. Rows come ordered by key, so a duplicated key is seen
 * as neighbours; such a key is never sent by a run, so its rows cannot stand for what was.
 */
async function sampleDeliveredRows(
  ctx: EngineContext,
  input: {
    syncId: string;
    size: number;
    source: { config: { type: string; [key: string]: unknown }; name: string };
    sql: string;
    primaryKey: string;
    /** The destination's stored form of a key (Destination.recordKey), if it has one. */
    recordKey?: (primaryKey: string) => string;
  },
): Promise<SampledRow[]> {
  const reservoir: SampledRow[] = [];
  let delivered = 0;
  let previous: SampledRow | null = null;
  const source = openSource(input.source.config, { name: input.source.name, baseDir: ctx.baseDir });
  try {
    for await (const chunk of source.stream({
      sql: input.sql,
      chunkSize: CHUNK_SIZE,
      label: `ebb:${input.syncId}:verify`,
    })) {
      const rows = chunk.flatMap((row) => {
        const value = row[input.primaryKey];
        if (value === null || value === undefined || value === '') return [];
        return [{ key: input.recordKey?.(String(value)) ?? String(value), row }];
      });
      const snapshots = await ctx.store.snapshotsFor(input.syncId, [...new Set(rows.map((r) => r.key))]);
      for (const { key, row } of rows) {
        if (previous?.key === key) {
          previous.problem = 'the model returns more than one row with this key';
          previous.row = null;
          continue;
        }
        const snapshot = snapshots.get(key);
        if (!snapshot) {
          previous = null;
          continue;
        }
        delivered++;
        const entry: SampledRow = {
          key,
          row,
          problem: null,
          hash: snapshot.hash,
          destinationId: snapshot.destinationId,
          fieldHashes: snapshot.fieldHashes,
        };
        previous = entry;
        if (reservoir.length < input.size) {
          reservoir.push(entry);
        } else {
          const slot = Math.floor(Math.random() * delivered);
          if (slot < input.size) reservoir[slot] = entry;
        }
      }
    }
  } finally {
    await source.close();
  }
  return reservoir;
}
