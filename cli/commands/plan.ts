/** `ebb plan <sync>`: a dry run. Reads the model and the snapshot, sends nothing, stages nothing. */
import { DestinationPool } from '../../activities/engine-context';
import { planRun } from '../../activities/plan-run';
import { loadCliContext, openStore } from '../cli-context';
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
    if (options.json)
      return printJson({ sync: options.sync, ...plan, batchSize: destination.limits.batchSize, apiRequests });
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
          `(runs with ${bulk.threshold ?? 0} or more records to send take it), in about ${count(apiRequests, 'API request')} (an estimate: per job, create, upload, close, ` +
          `3 result downloads and the polls while Salesforce processes it)`,
      );
    } else {
      say(
        `  ${count(toSend, 'record')} in ${count(plan.batches, 'batch', 'batches')} of up to ${destination.limits.batchSize} would be delivered${destination.bulk ? ' through sObject Collections' : ''}, in about ${count(apiRequests, 'API request')}`,
      );
    }
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
