/**
 * notify: alerts a sync's alert channel when a run failed or left too many failed records.
 * One alert per run: the Slack post is keyed by `ebb-alert:<sync>:<run>`, so a retried activity
 * finds its earlier post instead of posting again.
 */
import { postAlert } from '../connectors/destinations/slack-destination';
import { describeOutcome, storedRunStatus } from '../state/run-outcome';
import type { DestinationPool, EngineContext } from './engine-context';
import { excerpt } from './excerpt';

export async function notifyRun(
  ctx: EngineContext,
  pool: DestinationPool,
  input: { syncId: string; runNumber: number },
): Promise<{ alerted: boolean }> {
  const { sync } = pool.resolve(input.syncId);
  const alert = sync.alert;
  if (!alert) return { alerted: false };
  const run = await ctx.store.getRun(input.syncId, input.runNumber);
  if (!run) return { alerted: false };
  const threshold = alert.failedRecordsThreshold ?? 1;
  const outcome = storedRunStatus(run);
  const runFailed = outcome === 'failed';
  if (!runFailed && run.failed < threshold) return { alerted: false };

  const samples = await ctx.store.listRecordResults(input.syncId, {
    runNumber: input.runNumber,
    failedOnly: true,
    limit: 3,
  });
  const lines = [
    runFailed
      ? `:rotating_light: ebb sync *${input.syncId}* run ${run.run_number} failed: ${excerpt(run.error_message ?? `every record failed (${run.failed})`, 500)}`
      : `:warning: ebb sync *${input.syncId}* run ${run.run_number} ${describeOutcome('succeeded_with_failures', run.failed)} (threshold ${threshold})`,
    `${run.succeeded} delivered, ${run.failed - run.invalid} failed, ${run.invalid} invalid; ${run.added} added, ${run.changed} changed, ${run.removed} removed`,
    ...(run.error_detail && alert.quoteValues ? [`> ${excerpt(run.error_detail)}`] : []),
    ...samples.map(
      (r) =>
        `• \`${excerpt(r.key, 80)}\` ${r.errorCode ?? ''}` +
        (alert.quoteValues && r.errorMessage ? `: ${excerpt(r.errorMessage)}` : ''),
    ),
    `See all: \`ebb records ${input.syncId} --run ${run.run_number} --failed\``,
  ];
  const connection = ctx.config.destinations[alert.destination];
  if (!connection)
    throw new Error(`alert destination '${alert.destination}' of sync '${input.syncId}' is not configured`);
  await postAlert({
    connection,
    channel: alert.channel,
    text: lines.join('\n'),
    idempotencyKey: `ebb-alert:${input.syncId}:${run.run_number}`,
  });
  return { alerted: true };
}
