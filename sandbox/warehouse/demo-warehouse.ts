/**
 * The demo warehouse: a DuckDB file with one modelled table, `account_health`.
 *
 *   await buildDemoWarehouse('.ebb/warehouse.duckdb');              // 4 seed accounts + 300 generated
 *   await updateDemoAccounts('.ebb/warehouse.duckdb', DEMO_CHANGES); // Acme 38 -> 30, Initech 55 -> 45
 *
 * Every function opens the file read-write and closes it before returning, because DuckDB lets only
 * one process write a file and a sync's reader in another process would otherwise be locked out.
 * Call them while no sync is reading the file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DuckDBConnection, DuckDBInstance, DuckDBValue, decimalValue, timestampValue } from '@duckdb/node-api';
import { isDuckDbFileOpen } from '../../connectors/sources/duckdb/duckdb-source';
import { mulberry32 } from '../seeded-random';

export interface DemoAccount {
  account_id: string;
  name: string;
  health: number;
  segment: Segment;
  /** Monthly recurring revenue in whole currency units. */
  mrr: number;
}

export type Segment = 'at-risk' | 'neutral' | 'healthy';

export interface DemoAccountChange {
  account_id: string;
  health?: number;
  /** Defaults to the segment the new health falls in, as the warehouse model would derive it. */
  segment?: string;
  /** null clears the name (a row Salesforce refuses to insert: Name is required). */
  name?: string | null;
  mrr?: number;
}

export class DemoWarehouseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export const SEED_ACCOUNTS: readonly DemoAccount[] = [
  { account_id: 'acme', name: 'Acme', health: 38, segment: 'at-risk', mrr: 900 },
  { account_id: 'globex', name: 'Globex', health: 82, segment: 'healthy', mrr: 4000 },
  { account_id: 'initech', name: 'Initech', health: 55, segment: 'neutral', mrr: 700 },
  { account_id: 'umbrella', name: 'Umbrella', health: 91, segment: 'healthy', mrr: 1200 },
];

/** The lesson's change: Acme gets worse but stays at-risk; Initech drops into at-risk. */
export const DEMO_CHANGES: readonly DemoAccountChange[] = [
  { account_id: 'acme', health: 30 },
  { account_id: 'initech', health: 45 },
];

export const DEFAULT_GENERATED_ACCOUNTS = 300;

/** Every built row carries this updated_at, so a fresh build always reads the same. */
export const DEMO_BUILT_AT = '2025-01-01T00:00:00.000Z';

export function segmentForHealth(health: number): Segment {
  if (health < 50) return 'at-risk';
  if (health < 80) return 'neutral';
  return 'healthy';
}

/** The accounts a build writes, in order: the seeds, then `generated` deterministic ones. */
export function demoAccounts(generated: number = DEFAULT_GENERATED_ACCOUNTS): DemoAccount[] {
  const random = mulberry32(20_250_101);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const accounts = [...SEED_ACCOUNTS];
  for (let i = 1; i <= generated; i++) {
    // Like a real book of business: about one account in ten at risk, the rest spread over 50-100.
    const health = random() < 0.1 ? Math.floor(random() * 50) : 50 + Math.floor(random() * 51);
    accounts.push({
      account_id: `acct-${String(i).padStart(4, '0')}`,
      name: `${pick(NAME_STEMS)} ${pick(NAME_SUFFIXES)} ${i}`,
      health,
      segment: segmentForHealth(health),
      mrr: 100 * (1 + Math.floor(random() * 100)),
    });
  }
  return accounts;
}

/** Creates the file, replacing any previous one, with `account_health` holding demoAccounts(generated). */
export async function buildDemoWarehouse(file: string, options: { generated?: number } = {}): Promise<void> {
  const generated = options.generated ?? DEFAULT_GENERATED_ACCOUNTS;
  if (!Number.isInteger(generated) || generated < 0) {
    throw new DemoWarehouseError(`generated must be a whole number of accounts, got ${generated}`);
  }
  assertNoSourceHasItOpen(file);
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  for (const leftover of [file, `${file}.wal`]) fs.rmSync(leftover, { force: true });

  await withConnection(file, async (connection) => {
    await connection.run(`
      CREATE TABLE account_health (
        account_id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        health INTEGER NOT NULL,
        segment VARCHAR NOT NULL,
        mrr DECIMAL(12, 2) NOT NULL,
        updated_at TIMESTAMP NOT NULL
      )`);
    const builtAt = timestampValue(BigInt(Date.parse(DEMO_BUILT_AT)) * 1000n);
    const appender = await connection.createAppender('account_health');
    try {
      for (const account of demoAccounts(generated)) {
        appender.appendVarchar(account.account_id);
        appender.appendVarchar(account.name);
        appender.appendInteger(account.health);
        appender.appendVarchar(account.segment);
        appender.appendDecimal(decimalValue(BigInt(Math.round(account.mrr * 100)), 12, 2));
        appender.appendTimestamp(builtAt);
        appender.endRow();
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  });
}

/**
 * Applies the changes in one transaction and moves each changed row's updated_at past every
 * existing one, so cursor-based syncs see them as new. Fails, changing nothing, on an unknown id.
 */
export async function updateDemoAccounts(file: string, changes: readonly DemoAccountChange[]): Promise<void> {
  assertExists(file);
  await withConnection(file, async (connection) => {
    await connection.run('BEGIN TRANSACTION');
    try {
      const now = timestampValue(BigInt(Date.now()) * 1000n);
      for (const change of changes) {
        const assignments: string[] = [];
        const values: DuckDBValue[] = [];
        const set = (column: string, value: DuckDBValue) => {
          values.push(value);
          assignments.push(`${column} = $${values.length}`);
        };
        if (change.name !== undefined) set('name', change.name);
        if (change.health !== undefined) set('health', change.health);
        const segment = change.segment ?? (change.health === undefined ? undefined : segmentForHealth(change.health));
        if (segment !== undefined) set('segment', segment);
        if (change.mrr !== undefined) set('mrr', decimalValue(BigInt(Math.round(change.mrr * 100)), 12, 2));
        values.push(now);
        assignments.push(
          `updated_at = greatest($${values.length}, (SELECT max(updated_at) FROM account_health) + INTERVAL 1 MICROSECOND)`,
        );
        values.push(change.account_id);
        const result = await connection.run(
          `UPDATE account_health SET ${assignments.join(', ')} WHERE account_id = $${values.length}`,
          values,
        );
        if (result.rowsChanged === 0) {
          throw new DemoWarehouseError(`No account "${change.account_id}" in account_health of ${file}`);
        }
      }
      await connection.run('COMMIT');
    } catch (error) {
      await connection.run('ROLLBACK');
      throw error;
    }
  });
}

/** Runs SQL read-write on the file and returns its rows as DuckDB's JSON form (BIGINT and DECIMAL as strings). */
/** The demo model requires a name; tests that need a row Salesforce refuses for lacking one drop that. */
export async function allowMissingNames(file: string): Promise<void> {
  await execDuckDb(file, 'ALTER TABLE account_health ALTER COLUMN name DROP NOT NULL');
}

export async function execDuckDb(file: string, sql: string): Promise<Record<string, unknown>[]> {
  return withConnection(file, async (connection) => (await connection.runAndReadAll(sql)).getRowObjectsJson());
}

async function withConnection<T>(file: string, work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
  assertNoSourceHasItOpen(file);
  const instance = await DuckDBInstance.create(file);
  try {
    const connection = await instance.connect();
    try {
      return await work(connection);
    } finally {
      connection.disconnectSync();
    }
  } finally {
    instance.closeSync();
  }
}

function assertNoSourceHasItOpen(file: string): void {
  if (isDuckDbFileOpen(file)) {
    throw new DemoWarehouseError(
      `${path.resolve(file)} is open by a source in this process; close the source before writing, or it keeps reading the old data`,
    );
  }
}

function assertExists(file: string): void {
  if (!fs.existsSync(file)) {
    throw new DemoWarehouseError(`No demo warehouse at ${path.resolve(file)}; build it first with buildDemoWarehouse`);
  }
}

const NAME_STEMS = [
  'Northwind',
  'Contoso',
  'Fabrikam',
  'Tailspin',
  'Wingtip',
  'Litware',
  'Proseware',
  'Adatum',
  'Lucerne',
  'Margie',
  'Woodgrove',
  'Coho',
] as const;

const NAME_SUFFIXES = ['Labs', 'Systems', 'Holdings', 'Logistics', 'Foods', 'Energy', 'Media', 'Health'] as const;
