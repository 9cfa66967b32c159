/**
 * What each destination connection spent of its `apiBudget` (connectors/destinations/api-budget.ts),
 * one row per connection and window, shared by every worker through the state store. A request is
 * taken with one statement (insert, or add to the row while the count stays within the share), so
 * two workers racing for the last request of a share cannot both get it, on SQLite or PostgreSQL.
 *
 *   const counter = storeRequestCounter(store);
 *   await counter.take({ connection: 'salesforce', windowStart: '2026-12-02T00:00:00.000Z', share: 1000, requests: 1 });
 */
import { sql, type Kysely, type Migration } from 'kysely';
import { budgetWindow, type ApiBudgetConfig, type SharedRequestCounter } from '../connectors/destinations/api-budget';
import type { StateStore } from './state-store';

export interface ApiBudgetWindowsTable {
  connection: string;
  /** ISO time the window starts. */
  window_start: string;
  /** Requests taken from the share in this window, by every worker. */
  used: number;
  /** The share the last taker computed (maxPercent of the org's limit, or requestsPerDay). */
  share: number;
  /** When the pause alert for this window was sent; null before. */
  alerted_at: string | null;
}

type BudgetDb = Kysely<{ api_budget_windows: ApiBudgetWindowsTable }>;

export const apiBudgetWindowsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('api_budget_windows')
      .addColumn('connection', 'text', (c) => c.notNull())
      .addColumn('window_start', 'text', (c) => c.notNull())
      .addColumn('used', 'integer', (c) => c.notNull())
      .addColumn('share', 'integer', (c) => c.notNull())
      .addColumn('alerted_at', 'text')
      .addPrimaryKeyConstraint('api_budget_windows_pk', ['connection', 'window_start'])
      .execute();
  },
};

const budgetDb = (store: StateStore): BudgetDb => store.db as unknown as BudgetDb;

/** The state store as the shared counter of every connection's apiBudget. */
export function storeRequestCounter(store: StateStore): SharedRequestCounter {
  const db = budgetDb(store);
  return {
    async take({ connection, windowStart, share, requests }) {
      if (requests > share) return false;
      const taken = await db
        .insertInto('api_budget_windows')
        .values({ connection, window_start: windowStart, used: requests, share, alerted_at: null })
        .onConflict((oc) =>
          oc
            .columns(['connection', 'window_start'])
            .doUpdateSet({ used: sql`api_budget_windows.used + ${requests}`, share })
            .where(sql<boolean>`api_budget_windows.used + ${requests} <= ${share}`),
        )
        .returning('used')
        .executeTakeFirst();
      return taken !== undefined;
    },
    async knownShare({ connection, windowStart }) {
      const row = await db
        .selectFrom('api_budget_windows')
        .select('share')
        .where('connection', '=', connection)
        .where('window_start', '=', windowStart)
        .executeTakeFirst();
      return row?.share ?? null;
    },
  };
}

/**
 * Claims the pause alert of a connection's window: true for exactly one caller per window, who then
 * sends it; `release` gives the claim back when sending failed, so a later pause tries again.
 */
export async function claimApiBudgetAlert(
  store: StateStore,
  connection: string,
  windowStart: string,
): Promise<{ claimed: boolean; release: () => Promise<void> }> {
  const db = budgetDb(store);
  const at = new Date().toISOString();
  // An insert too: a share of 0 (a small maxPercent of a small org) pauses before any row exists.
  const result = await db
    .insertInto('api_budget_windows')
    .values({ connection, window_start: windowStart, used: 0, share: 0, alerted_at: at })
    .onConflict((oc) =>
      oc
        .columns(['connection', 'window_start'])
        .doUpdateSet({ alerted_at: at })
        .where('api_budget_windows.alerted_at', 'is', null),
    )
    .returning('alerted_at')
    .executeTakeFirst();
  return {
    claimed: result !== undefined,
    release: async () => {
      await db
        .updateTable('api_budget_windows')
        .set({ alerted_at: null })
        .where('connection', '=', connection)
        .where('window_start', '=', windowStart)
        .execute();
    },
  };
}

/** What a connection took in a window (for tests and `ebb status`), or null before its first request. */
export async function apiBudgetWindow(
  store: StateStore,
  connection: string,
  windowStart: string,
): Promise<{ used: number; share: number; alertedAt: string | null } | null> {
  const row = await budgetDb(store)
    .selectFrom('api_budget_windows')
    .selectAll()
    .where('connection', '=', connection)
    .where('window_start', '=', windowStart)
    .executeTakeFirst();
  return row ? { used: row.used, share: row.share, alertedAt: row.alerted_at } : null;
}

/**
 * How a connection stands against its apiBudget now, for `ebb plan`: what every worker took in the
 * current window, the share (null for a maxPercent share no worker has computed this window) and
 * when the window ends.
 */
export async function apiBudgetStanding(
  store: StateStore,
  connection: string,
  config: ApiBudgetConfig,
  now = Date.now(),
): Promise<{ used: number; share: number | null; until: Date }> {
  const window = budgetWindow(config, now);
  const row = await apiBudgetWindow(store, connection, window.start.toISOString());
  const fixed = config.requestsPerDay ?? null;
  return { used: row?.used ?? 0, share: fixed ?? row?.share ?? null, until: window.end };
}
