/** `ebb plan <sync>`: a dry run. Reads the model and the snapshot, sends nothing, stages nothing. */
import { DestinationPool } from '../../activities/engine-context';
import { planRun } from '../../activities/plan-run';
import { loadCliContext, openStore } from '../cli-context';
import { apiBudgetSchema } from '../../connectors/destinations/api-budget';
import { apiBudgetStanding } from '../../state/api-budget-windows';
import type { StateStore } from '../../state/state-store';
import { count, printJson, say } from '../output';

export async function planCommand(options: {
  config?: string;
  sync: string;
  full?: boolean;
  json?: boolean;
}): Promise<void> {
  const ctx = loadCliContext(options.config);
  const store = await openStore(ctx);
  const engine = { config: ctx.config, baseDir: ctx.baseDir, store, taskQueue: ctx.taskQueue, client: null };
  const pool = new DestinationPool(engine);
  try {
    const destination = await pool.get(options.sync, { checked: false });
    const plan = await planRun(
      engine,
      pool,
      { syncId: options.sync, runNumber: 0, kind: options.full ? 'full' : 'incremental', replayOfRun: null },
      { dryRun: true, samples: 5 },
    );
    const toSend = plan.added + plan.changed + plan.removed;
    const bulk = plan.delivery === 'bulk' ? destination.bulk : undefined;
    const apiRequests = bulk
      ? bulk.estimateRequests(plan.toSend)
      : (destination.estimateRequests?.({ records: toSend, batches: plan.batches }) ?? plan.batches);
    const budget = await budgetOf(store, pool.resolve(options.sync).destination);
    if (options.json)
      return printJson({
        sync: options.sync,
        ...plan,
        batchSize: destination.limits.batchSize,
        apiRequests,
        ...(budget ? { apiBudget: budget } : {}),
      });
    say(`plan for ${options.sync}${options.full ? ' (full resync)' : ''}: nothing is sent`);
    say(
      `  ${plan.added} to add, ${plan.changed} to change, ${plan.removed} to remove, ${plan.unchanged} unchanged, ${count(plan.invalid, 'invalid row')}`,
    );
    say(`  ${count(plan.rowsRead ?? 0, 'row')} read out of the warehouse`);
    if (plan.deletionGuard)
      say(
        `  the deletion guard would stop this run, sending nothing: ${plan.deletionGuard.deletes} of ${plan.deletionGuard.delivered} ` +
          `delivered records would be deleted, more than the limit of ${plan.deletionGuard.limit} (${plan.deletionGuard.source}); ` +
          `to confirm the deletes: ebb run ${options.sync} --allow-deletes`,
      );
    if (bulk) {
      // Polls depend on how long Salesforce takes to process the job, so the figure is an estimate.
      say(
        `  ${count(toSend, 'record')} would be delivered through ${bulk.describe()} ` +
          `(${toSend >= (bulk.threshold ?? 0) ? `runs with ${bulk.threshold ?? 0} or more records to send take it` : "sObject Collections would need more requests than the connection's apiBudget has left"}), in about ${count(apiRequests, 'API request')} (an estimate: per job, create, upload, close, ` +
          `3 result downloads and the polls while Salesforce processes it)`,
      );
    } else {
      say(
        `  ${count(toSend, 'record')} in ${count(plan.batches, 'batch', 'batches')} of up to ${destination.limits.batchSize} would be delivered${destination.bulk ? ' through sObject Collections' : ''}, in about ${count(apiRequests, 'API request')}`,
      );
    }
    if (budget) say(`  ${describeBudget(budget, apiRequests)}`);
    for (const s of plan.samples) {
      // Changed fields only: an update writes its key and the fields the warehouse changed.
      const writes = s.fields ? ` writes ${s.fields.length ? s.fields.join(', ') : 'only its key'}` : '';
      say(`  ${s.operation} ${s.key}${writes}: ${JSON.stringify(s.payload)}`);
    }
  } finally {
    await pool.closeAll();
    await store.close();
  }
}

/** The destination connection's apiBudget now (what every worker took this window), if it has one. */
async function budgetOf(
  store: StateStore,
  destination: { name: string; connection: unknown },
): Promise<{ connection: string; used: number; share: number | null; until: string } | null> {
  const config = apiBudgetSchema.safeParse((destination.connection as { apiBudget?: unknown }).apiBudget);
  if (!config.success || config.data === undefined) return null;
  const standing = await apiBudgetStanding(store, destination.name, config.data);
  return { connection: destination.name, ...standing, until: standing.until.toISOString() };
}

/** "API budget of destination 'crm': 420 of 1000 requests used in the window until <time>; this run fits in it." */
function describeBudget(
  budget: { connection: string; used: number; share: number | null; until: string },
  needed: number,
): string {
  const head = `API budget of destination '${budget.connection}': ${budget.used} of ${budget.share ?? 'its share of'} requests used in the window until ${budget.until}`;
  if (budget.share === null)
    return `${head} (the share is known once the org's allowance is read at the first request)`;
  const left = Math.max(0, budget.share - budget.used);
  return needed <= left
    ? `${head}; this run fits in the ${left} left`
    : `${head}; this run needs about ${needed}, so its syncs pause at the share until the window ends and go on then`;
}
