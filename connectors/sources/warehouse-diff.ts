/**
 * Warehouse-side diff: the warehouse hashes each model row in SQL and compares it with a snapshot
 * table ebb keeps in the warehouse (in a schema of its own), so only new, changed and removed rows
 * leave the warehouse. A no-op re-run of a million-row model then moves a few bytes instead of the
 * model.
 *
 *   const diff = new WarehouseDiff(source, syncId, { modelSql, primaryKey, columns });
 *   await diff.prepare();
 *   for await (const rows of diff.rows({ changedOnly: true, chunkSize: 1000 })) { ... }   // + ebb_key, ebb_row_hash
 *   await diff.save([{ key, rowHash }]);   // only once the destination accepted the record
 *
 * The snapshot table only filters what is read: rows read are still compared with the state
 * store's snapshot of the last accepted delivery, which stays the authority. A row's hash covers
 * every column the model selects (length-prefixed, so no two different rows hash alike by
 * concatenation), which is why a model should select only what its syncs use.
 */
import { z } from 'zod';
import type { Row, Source } from './source';
import { ident, literal } from './model-query';

/** The writable snapshot table a source offers when `warehouseDiff` is configured. */
export interface SnapshotTable {
  /** Qualified name, e.g. "ebb"."row_snapshots". */
  readonly table: string;
  /** Creates the schema (or attached database) and the table when missing; safe on every run. */
  prepare(): Promise<void>;
  /** Runs a statement that returns no rows. */
  execute(sql: string): Promise<void>;
}

export const KEY_COLUMN = 'ebb_key';
export const ROW_HASH_COLUMN = 'ebb_row_hash';
const COUNT_COLUMN = 'ebb_count';
// Quoted, so that warehouses that fold unquoted names to upper case (Snowflake) keep them as written.
const KEY = ident(KEY_COLUMN);
const ROW_HASH = ident(ROW_HASH_COLUMN);
const COUNT = ident(COUNT_COLUMN);

/** Columns the diff adds to each model row; the plan removes them before mapping. */
export const DIFF_COLUMNS = [KEY_COLUMN, ROW_HASH_COLUMN] as const;

export function snapshotTableDdl(table: string): string {
  return (
    `create table if not exists ${table} ` +
    `(sync_id varchar not null, key varchar not null, row_hash varchar not null, primary key (sync_id, key))`
  );
}

/**
 * `warehouseDiff` of a source whose snapshots live in a schema of the warehouse (PostgreSQL,
 * Snowflake): `true` for the schema `ebb`, or `{ schema: name }`. ebb needs to create that schema
 * (or own it) and write to it; the models themselves are only read.
 */
export const warehouseDiffSchemaOption = z
  .union([
    z.literal(true),
    z.strictObject({
      schema: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_$]*$/, 'a schema name: letters, digits and _, starting with a letter or _')
        .optional(),
    }),
  ])
  .optional();

export function snapshotSchemaName(option: z.infer<typeof warehouseDiffSchemaOption>): string | undefined {
  if (option === undefined) return undefined;
  return option === true ? 'ebb' : (option.schema ?? 'ebb');
}

export interface DiffedModel {
  /** The model with the sync's filter applied (filteredModelQuery), unordered. */
  modelSql: string;
  primaryKey: string;
  /** Every column the model selects (from describe), hashed in this order. */
  columns: string[];
}

const WRITE_BATCH = 1000;

export class WarehouseDiff {
  private readonly snapshots: SnapshotTable;

  /** `model` is needed to read (rows, counts, removed keys), not to save or remove snapshots. */
  constructor(
    private readonly source: Source,
    private readonly syncId: string,
    private readonly model?: DiffedModel,
  ) {
    if (!source.snapshots) throw new Error('this source has no warehouseDiff configured');
    this.snapshots = source.snapshots;
  }

  prepare(): Promise<void> {
    return this.snapshots.prepare();
  }

  private get sync(): string {
    return literal(this.syncId);
  }

  private get input(): DiffedModel {
    if (!this.model) throw new Error('WarehouseDiff needs the model to read rows');
    return this.model;
  }

  /** The model's rows with their key as text and their hash, computed in the warehouse. */
  private hashedModel(): string {
    const parts = this.input.columns.map((column) => {
      const text = `cast(${ident(column)} as varchar)`;
      return `coalesce(cast(length(${text}) as varchar) || ':' || ${text}, 'N')`;
    });
    const hash = `md5(${parts.length ? parts.join(` || '|' || `) : "''"})`;
    return (
      `select ebb_hashed.*, cast(${ident(this.input.primaryKey)} as varchar) as ${KEY}, ${hash} as ${ROW_HASH} ` +
      `from (${this.input.modelSql}) as ebb_hashed`
    );
  }

  /** How many rows of this sync the snapshot table holds. */
  async count(): Promise<number> {
    return this.scalar(`select count(*) as ${COUNT} from ${this.snapshots.table} where sync_id = ${this.sync}`);
  }

  /** Model rows in key order; with `changedOnly`, only those whose hash differs from the snapshot (or that it lacks). */
  rows(options: { changedOnly: boolean; chunkSize: number; label?: string }): AsyncIterable<Row[]> {
    const model = this.hashedModel();
    const sql = options.changedOnly
      ? `select m.* from (${model}) as m left join ${this.snapshots.table} as s ` +
        `on s.sync_id = ${this.sync} and s.key = m.${KEY} ` +
        `where s.row_hash is null or s.row_hash <> m.${ROW_HASH} order by m.${KEY}`
      : `${model} order by ${KEY}`;
    return this.source.stream({ sql, chunkSize: options.chunkSize, label: options.label });
  }

  /** Rows whose hash equals the snapshot's: unchanged, and never read out of the warehouse. */
  async unchangedCount(): Promise<number> {
    return this.scalar(
      `select count(*) as ${COUNT} from (${this.hashedModel()}) as m join ${this.snapshots.table} as s ` +
        `on s.sync_id = ${this.sync} and s.key = m.${KEY} and s.row_hash = m.${ROW_HASH}`,
    );
  }

  /** Keys in the snapshot that the model no longer returns, in key order. */
  async *removedKeys(chunkSize: number): AsyncIterable<string[]> {
    const sql =
      `select s.key as ${KEY} from ${this.snapshots.table} as s where s.sync_id = ${this.sync} and not exists ` +
      `(select 1 from (${this.input.modelSql}) as m where cast(m.${ident(this.input.primaryKey)} as varchar) = s.key) ` +
      `order by s.key`;
    for await (const rows of this.source.stream({ sql, chunkSize })) yield rows.map((r) => String(r[KEY_COLUMN]));
  }

  /** Records accepted rows' hashes. Delete-then-insert is idempotent, so a retried save is harmless. */
  async save(entries: Array<{ key: string; rowHash: string }>): Promise<void> {
    for (let i = 0; i < entries.length; i += WRITE_BATCH) {
      const slice = entries.slice(i, i + WRITE_BATCH);
      await this.remove(slice.map((e) => e.key));
      const values = slice.map((e) => `(${this.sync}, ${literal(e.key)}, ${literal(e.rowHash)})`).join(', ');
      await this.snapshots.execute(`insert into ${this.snapshots.table} (sync_id, key, row_hash) values ${values}`);
    }
  }

  async remove(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += WRITE_BATCH) {
      const slice = keys.slice(i, i + WRITE_BATCH);
      if (!slice.length) continue;
      await this.snapshots.execute(
        `delete from ${this.snapshots.table} where sync_id = ${this.sync} and key in (${slice.map(literal).join(', ')})`,
      );
    }
  }

  /** Forgets the sync's snapshot (a full resync rebuilds it). */
  async clear(): Promise<void> {
    await this.snapshots.execute(`delete from ${this.snapshots.table} where sync_id = ${this.sync}`);
  }

  private async scalar(sql: string): Promise<number> {
    for await (const rows of this.source.stream({ sql, chunkSize: 1 })) return Number(rows[0]?.[COUNT_COLUMN] ?? 0);
    return 0;
  }
}
