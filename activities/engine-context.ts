/**
 * What every activity needs, built once per worker process by `workers/` and handed to
 * `createActivities`. Destinations are created lazily per sync and checked once per process; the
 * syncs of one destination connection share a ConnectionScope (one session, one describe per object).
 */
import path from 'node:path';
import type { Client } from '@temporalio/client';
import pLimit, { type Limit } from 'p-limit';
import type { EbbConfig } from '../config/schema';
import { resolveSync, type ResolvedSync } from '../config/load-config';
import type { Destination } from '../connectors/destinations/destination';
import { ConnectionScope } from '../connectors/destinations/connection-scope';
import type { StateStore } from '../state/state-store';
import { storeRequestCounter } from '../state/api-budget-windows';
import type { SharedRequestCounter } from '../connectors/destinations/api-budget';
import type { RecordRetryPolicy } from './record-retries';
import { TemporalNames } from '../workflows/temporal-names';

export interface EngineContext {
  config: EbbConfig;
  /** Directory of ebb.yaml: relative paths in it (DuckDB files, state file) are relative to it. */
  baseDir: string;
  store: StateStore;
  /** Task queue of the controllers and runs; delivery queues are derived from it per destination. */
  taskQueue: string;
  /** Used by activities that signal workflows (the scheduled trigger). */
  client: Client | null;
  /** Backoff for records rejected with a transient error code (default: defaultRecordRetryPolicy); tests shorten it. */
  recordRetries?: RecordRetryPolicy;
  /** Wait before a delivery paused for the destination's daily API budget checks again (default 5 minutes); tests shorten it. */
  apiBudgetRetryMs?: number;
}

/** The Temporal names of the deployment this worker serves (its config's `deployment`, its task queue). */
export function temporalNames(ctx: Pick<EngineContext, 'config' | 'taskQueue'>): TemporalNames {
  return new TemporalNames(ctx.config.deployment ?? null, ctx.taskQueue);
}

export function deliveryTaskQueue(taskQueue: string, destinationName: string): string {
  return `${taskQueue}-dest-${destinationName}`;
}

export class DestinationPool {
  private readonly destinations = new Map<string, { destination: Destination; checked: Promise<void> | null }>();
  private readonly limiters = new Map<string, Limit>();
  /** One per destination connection: its syncs share a session and metadata (connection-scope.ts). */
  private readonly scopes = new Map<string, ConnectionScope>();

  /** Every worker's count of each connection's requests, for its apiBudget (in the state store). */
  private readonly requestCounter: SharedRequestCounter;

  constructor(private readonly ctx: EngineContext) {
    this.requestCounter = storeRequestCounter(ctx.store);
  }

  resolve(syncId: string): ResolvedSync {
    return resolveSync(this.ctx.config, syncId);
  }

  /** The sync's destination, created once per process; `check()` (credentials, object, fields) runs once. */
  async get(syncId: string, options: { checked: boolean }): Promise<Destination> {
    let entry = this.destinations.get(syncId);
    if (!entry) {
      const resolved = this.resolve(syncId);
      const name = resolved.destination.name;
      let scope = this.scopes.get(name);
      if (!scope) this.scopes.set(name, (scope = new ConnectionScope(name, this.requestCounter)));
      const destination = resolved.connector.create({
        connection: resolved.destination.connection,
        sync: resolved.sync,
        scope,
        baseDir: this.ctx.baseDir,
      });
      entry = { destination, checked: null };
      this.destinations.set(syncId, entry);
    }
    if (options.checked) {
      // A failed check is not cached, so the next attempt checks again (credentials may be fixed by then).
      entry.checked ??= entry.destination.check().catch((err: unknown) => {
        if (entry) entry.checked = null;
        throw err;
      });
      await entry.checked;
    }
    return entry.destination;
  }

  /**
   * The limiter every delivery of one destination connection in this process shares, so its
   * requests in flight stay within `maxConcurrency` however many activities run at once.
   */
  requestLimiter(syncId: string, maxConcurrency: number): Limit {
    const name = this.resolve(syncId).destination.name;
    let limiter = this.limiters.get(name);
    if (!limiter) {
      limiter = pLimit(maxConcurrency);
      this.limiters.set(name, limiter);
    }
    return limiter;
  }

  async closeAll(): Promise<void> {
    for (const { destination } of this.destinations.values()) await destination.close();
    this.destinations.clear();
    this.scopes.clear();
  }
}

export function resolvePath(ctx: Pick<EngineContext, 'baseDir'>, p: string): string {
  return path.resolve(ctx.baseDir, p);
}
