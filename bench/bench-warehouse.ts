/**
 * The benchmark's warehouse: the demo's `account_health` table, generated in one INSERT ... SELECT
 * over DuckDB's range(), because the demo builder's row-by-row appender takes minutes at a million
 * rows. The values are arithmetic on the row number, so every build of the same size is identical.
 *
 *   await buildBenchWarehouse('/tmp/w.duckdb', 100_000);
 *   const changed = await changeOnePercent('/tmp/w.duckdb'); // 1,000 rows get a new health
 */
import fs from 'node:fs';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

export const BENCH_MODEL_SQL = 'select account_id, name, health, segment, mrr, updated_at from account_health';

/** The demo's segment rule (segmentForHealth in sandbox/warehouse/demo-warehouse.ts) as SQL. */
const segmentOf = (health: string) =>
  `CASE WHEN ${health} < 50 THEN 'at-risk' WHEN ${health} < 80 THEN 'neutral' ELSE 'healthy' END`;

async function withDuckDb<T>(file: string, work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
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

/** Creates `file` (replacing it) with `rows` accounts acct-0000001 ... */
export async function buildBenchWarehouse(file: string, rows: number): Promise<void> {
  for (const leftover of [file, `${file}.wal`]) fs.rmSync(leftover, { force: true });
  await withDuckDb(file, async (connection) => {
    await connection.run(`
      CREATE TABLE account_health (
        account_id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        health INTEGER NOT NULL,
        segment VARCHAR NOT NULL,
        mrr DECIMAL(12, 2) NOT NULL,
        updated_at TIMESTAMP NOT NULL
      )`);
    // Multipliers prime to the moduli spread health and revenue evenly without a random source.
    await connection.run(`
      INSERT INTO account_health
      SELECT
        'acct-' || lpad(i::VARCHAR, 7, '0'),
        ['Northwind', 'Contoso', 'Fabrikam', 'Tailspin', 'Wingtip', 'Litware'][1 + i % 6]
          || ' ' || ['Labs', 'Systems', 'Holdings', 'Logistics', 'Foods'][1 + (i // 6) % 5] || ' ' || i,
        h,
        ${segmentOf('h')},
        (100 * (1 + (i * 37) % 100))::DECIMAL(12, 2),
        TIMESTAMP '2025-01-01 00:00:00'
      FROM (SELECT range AS i, ((range * 7919) % 101)::INTEGER AS h FROM range(1, ${rows + 1}))`);
  });
}

/**
 * Gives every hundredth account (spread over the key space, as real changes are) a different health
 * and segment and a new updated_at, in one statement; returns how many rows changed.
 */
export async function changeOnePercent(file: string): Promise<number> {
  return withDuckDb(file, async (connection) => {
    const result = await connection.run(`
      UPDATE account_health
      SET health = (health + 1) % 101,
          segment = ${segmentOf('(health + 1) % 101')},
          updated_at = now()::TIMESTAMP
      WHERE substr(account_id, 6)::INTEGER % 100 = 0`);
    return Number(result.rowsChanged);
  });
}
