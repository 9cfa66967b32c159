/**
 * The state store's backends for tests that loop over them: SQLite always, PostgreSQL when
 * EBB_TEST_POSTGRES_URL points at a server whose role may create databases (.ci/run sets it up).
 * Each `open()` makes a fresh store in its own file or database.
 *
 *   describe.each(STATE_BACKENDS)('the $name state store', (backend) => { ... });
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { openStateStore, type StateStore } from '../../state/state-store';

export interface OpenedStateBackend {
  store: StateStore;
  /** A scratch directory for the test's other files (ebb.yaml); the SQLite file lives in it. */
  dir: string;
  /** The `state:` block of an ebb.yaml pointing at this store. */
  stateYaml: string;
  reopen(): Promise<StateStore>;
  drop(): Promise<void>;
}

export interface StateBackend {
  name: 'sqlite' | 'postgres';
  open(): Promise<OpenedStateBackend>;
}

const sqlite: StateBackend = {
  name: 'sqlite',
  async open() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-state-'));
    const file = path.join(dir, 'state.sqlite');
    return {
      store: await openStateStore({ path: file }),
      dir,
      stateYaml: 'state: { path: ./state.sqlite }',
      reopen: () => openStateStore({ path: file }),
      drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  },
};

const postgres = (adminUrl: string): StateBackend => ({
  name: 'postgres',
  async open() {
    const db = `ebb_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const admin = new PgClient({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`create database ${db}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${db}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-state-'));
    return {
      store: await openStateStore({ url: url.toString() }),
      dir,
      stateYaml: `state: { url: '${url.toString()}' }`,
      reopen: () => openStateStore({ url: url.toString() }),
      drop: async () => {
        fs.rmSync(dir, { recursive: true, force: true });
        const c = new PgClient({ connectionString: adminUrl });
        await c.connect();
        await c.query(`drop database if exists ${db} with (force)`);
        await c.end();
      },
    };
  },
});

export const STATE_BACKENDS: StateBackend[] = [
  sqlite,
  ...(process.env.EBB_TEST_POSTGRES_URL ? [postgres(process.env.EBB_TEST_POSTGRES_URL)] : []),
];
