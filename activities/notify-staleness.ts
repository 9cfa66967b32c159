/**
 * notifyStaleness: tells a sync's alert channel that the sync is overdue (no successful run for
 * twice its schedule interval), and once more when a run succeeds again. The controller decides
 * when (workflows/sync-controller.ts); this activity only writes and posts. Each message is keyed
 * by the sync and the last success it is about, so a retried activity finds its earlier post.
 */
import { postAlert } from '../connectors/destinations/slack-destination';
import { describeOutcome, storedRunStatus } from '../state/run-outcome';
import type { Run } from '../state/state-store';
import type { DestinationPool, EngineContext } from './engine-context';

export interface StalenessAlertInput {
  syncId: string;
  kind: 'overdue' | 'recovered';
  /** The last successful run's end (or, before any success, when the controller started): what "since" refers to. */
  since: string;
  scheduleIntervalMs: number | null;
  /** For `recovered`: when the run that ended the staleness finished. */
  recoveredAt?: string;
}

export async function notifyStaleness(
  ctx: EngineContext,
  pool: DestinationPool,
  input: StalenessAlertInput,
): Promise<{ alerted: boolean }> {
  const { sync } = pool.resolve(input.syncId);
  const alert = sync.alert;
  if (!alert) return { alerted: false };
  const [lastRun] = await ctx.store.listRuns(input.syncId, 1);
  const every = input.scheduleIntervalMs === null ? 'its schedule' : `every ${duration(input.scheduleIntervalMs)}`;
  const lines =
    input.kind === 'overdue'
      ? [
          `:hourglass: ebb sync *${input.syncId}* is overdue: no successful run since ${input.since} (scheduled ${every}; ` +
            `it alerts after twice that). Downstream data may be stale.`,
          lastRunLine(lastRun),
          `See \`ebb runs ${input.syncId}\``,
        ]
      : [
          `:white_check_mark: ebb sync *${input.syncId}* recovered: a run succeeded at ${input.recoveredAt ?? 'now'} ` +
            `(overdue since ${input.since}).`,
        ];
  const connection = ctx.config.destinations[alert.destination];
  if (!connection)
    throw new Error(`alert destination '${alert.destination}' of sync '${input.syncId}' is not configured`);
  await postAlert({
    connection,
    channel: alert.channel,
    text: lines.join('\n'),
    idempotencyKey: `ebb-${input.kind}:${input.syncId}:${input.since}`,
    destinationName: alert.destination,
  });
  return { alerted: true };
}

function lastRunLine(run: Run | undefined): string {
  if (!run) return 'No run has started yet.';
  const status = storedRunStatus(run);
  if (status === 'planning' || status === 'delivering') return `Run ${run.run_number} is still ${status}.`;
  return `Last run ${run.run_number}: ${describeOutcome(status, run.failed)} at ${run.finished_at ?? '?'}.`;
}

/** 2s, 15m, 2h, 1d: the `every` spelling of ebb.yaml. */
function duration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
