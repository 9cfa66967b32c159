/**
 * `ebb prune [sync] [--dry-run] [--vacuum] [--json]`: applies `state.retention` to per-record
 * results now (workers do it after every run) and gives the space back (state/retention.ts).
 */
import { resolveSync } from '../../config/load-config';
import {
  pruneSync,
  reclaimSpace,
  storeSize,
  vacuumStore,
  type PruneReport,
  type StoreSize,
} from '../../state/retention';
import { loadCliContext, openStore } from '../cli-context';
import { printJson, printTable, say } from '../output';

export interface PruneOptions {
  config?: string;
  sync?: string;
  dryRun?: boolean;
  vacuum?: boolean;
  json?: boolean;
}

export async function pruneCommand(options: PruneOptions): Promise<void> {
  const ctx = loadCliContext(options.config);
  if (options.sync) resolveSync(ctx.config, options.sync);
  const policy = ctx.config.state.retention;
  const store = await openStore(ctx);
  try {
    // Syncs since removed from ebb.yaml still have results in the store: without a sync named, prune them too.
    const stored = await store.db.selectFrom('runs').select('sync_id').distinct().execute();
    const syncIds = options.sync
      ? [options.sync]
      : [...new Set([...Object.keys(ctx.config.syncs), ...stored.map((r) => r.sync_id)])].sort();
    const before = await storeSize(store);
    const reports: PruneReport[] = [];
    for (const syncId of syncIds) reports.push(await pruneSync(store, syncId, policy, { dryRun: options.dryRun }));
    const vacuum = options.vacuum && !options.dryRun && store.backend === 'sqlite';
    if (vacuum && !options.json)
      say(
        `rewriting the state store (VACUUM, ${mb(before.bytes)}): about as long as copying the file, needs as much free disk again, and writers wait meanwhile`,
      );
    if (!options.dryRun) await (vacuum ? vacuumStore(store) : reclaimSpace(store));
    const after = await storeSize(store);
    const hint = spaceHint(after, Boolean(options.vacuum));
    if (options.json)
      return printJson({ dryRun: Boolean(options.dryRun), retention: policy, syncs: reports, before, after, hint });
    printTable(
      reports.map((r) => ({
        sync: r.syncId,
        'runs pruned': r.runsPruned,
        [options.dryRun ? 'results it would delete' : 'results deleted']: r.resultsDeleted,
      })),
      ['sync', 'runs pruned', options.dryRun ? 'results it would delete' : 'results deleted'],
    );
    say(
      `retention: results of each sync's latest ${policy.runs} runs, none older than ${policy.days} days, older runs' accepted records only while they number at most ${policy.resultsPerRecord} per delivered record`,
    );
    say(`state store: ${describeSize(before)}${options.dryRun ? '' : ` -> ${describeSize(after)}`}`);
    if (options.dryRun) say('dry run: nothing was deleted');
    if (hint) say(hint);
  } finally {
    await store.close();
  }
}

function mb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function describeSize(size: StoreSize): string {
  if (size.backend === 'postgres') return `${mb(size.bytes)} (PostgreSQL database)`;
  return `${mb(size.bytes)} file + ${mb(size.walBytes)} WAL, ${mb(size.freeBytes)} of it free pages`;
}

function spaceHint(size: StoreSize, vacuumAsked: boolean): string | null {
  if (size.backend === 'postgres')
    return vacuumAsked ? 'PostgreSQL gives deleted rows back with autovacuum: --vacuum has nothing to do there' : null;
  if (!size.incrementalVacuum && size.freeBytes > 0)
    return `this store was created before ebb enabled auto_vacuum, so its ${mb(size.freeBytes)} of free pages stay in the file: \`ebb prune --vacuum\` rewrites it once, and space comes back by itself after that`;
  return null;
}
