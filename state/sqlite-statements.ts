/**
 * Kysely's SQLite driver prepares every query afresh, and preparing costs more than running the
 * small statements the state store issues per batch (a third of a delivery worker's CPU went to
 * `prepare`). This wrapper hands kysely a cached statement for SQL text it has seen before.
 *
 * The cache is bounded: multi-row inserts make a few distinct texts (a full chunk and a tail), the
 * rest of the store a few dozen. A statement still being iterated (a streamed select) is busy and
 * cannot run a second time, so such a text gets a fresh statement.
 */
import type Database from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

const CAPACITY = 256;

export function cachingStatements(db: Database.Database): SqliteDatabase {
  const cache = new Map<string, Database.Statement>();
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      const cached = cache.get(sql);
      if (cached && !cached.busy) {
        // Re-inserted so the map's order stays least-recently-used first.
        cache.delete(sql);
        cache.set(sql, cached);
        return cached;
      }
      const statement = db.prepare(sql);
      cache.set(sql, statement);
      if (cache.size > CAPACITY) {
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      return statement;
    },
  };
}
