/**
 * The engine's side of a connection's `apiBudget` (connectors/destinations/api-budget.ts): when a
 * request is refused because the share of the current window is spent, the activity that made it
 * fails with a retryable `ApiBudgetExhausted` whose next retry is when the next window starts. Every
 * sync of the connection meets the same refusal on its next request, so they pause together; the
 * pending activity's failure is what `ebb status` shows ("paused for API budget until <time>: ...").
 * The first activity to pause in a window alerts, once for the connection, through the alert
 * channel of a sync of that connection.
 */
import { log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ApiBudgetExhausted } from '../connectors/destinations/api-budget';
import { postAlert } from '../connectors/destinations/slack-destination';
import { claimApiBudgetAlert } from '../state/api-budget-windows';
import type { DestinationPool, EngineContext } from './engine-context';

/** Time left for the window to roll before the retry, so the retry does not land a moment early. */
const windowMarginMs = 250;

export function isApiBudgetExhausted(err: unknown): err is ApiBudgetExhausted {
  return err instanceof Error && err.name === 'ApiBudgetExhausted';
}

/**
 * The retryable failure a refused request becomes, after the connection's one alert for the window.
 * Alerting never fails the pause: a Slack outage leaves the claim free for the next pause to retry.
 */
export async function apiBudgetPause(
  ctx: EngineContext,
  pool: DestinationPool,
  syncId: string,
  err: ApiBudgetExhausted,
): Promise<ApplicationFailure> {
  try {
    await alertOnce(ctx, pool, syncId, err);
  } catch (alertError) {
    log.warn('could not send the API budget alert', { syncId, error: String(alertError) });
  }
  return ApplicationFailure.create({
    type: 'ApiBudgetExhausted',
    message: err.message,
    nextRetryDelay: err.retryAfterMs() + windowMarginMs,
  });
}

async function alertOnce(
  ctx: EngineContext,
  pool: DestinationPool,
  syncId: string,
  err: ApiBudgetExhausted,
): Promise<void> {
  // The sync that hit the share alerts through its own channel; one without an alert borrows the
  // channel of the first sync of the same connection that has one.
  const own = pool.resolve(syncId).sync.alert;
  const alert =
    own ??
    Object.values(ctx.config.syncs).find((s) => s.destination === err.connection && s.alert !== undefined)?.alert;
  if (!alert) return;
  const connection = ctx.config.destinations[alert.destination];
  if (!connection) return;
  const windowStart = err.windowStart.toISOString();
  const claim = await claimApiBudgetAlert(ctx.store, err.connection, windowStart);
  if (!claim.claimed) return;
  const syncs = Object.entries(ctx.config.syncs)
    .filter(([, s]) => s.destination === err.connection)
    .map(([id]) => `*${id}*`);
  try {
    await postAlert({
      connection,
      channel: alert.channel,
      text: [
        `:pause_button: ebb paused the syncs of destination *${err.connection}* for API budget until ${err.until.toISOString()}: ` +
          `they used its share of ${err.share} requests for the window that started ${windowStart}.`,
        `Paused: ${syncs.join(', ')}. They resume by themselves when the next window starts.`,
      ].join('\n'),
      idempotencyKey: `ebb-api-budget:${err.connection}:${windowStart}`,
    });
  } catch (sendError) {
    await claim.release();
    throw sendError;
  }
}
