/**
 * What `ebb run --wait` tells a person while it waits, on stderr so `--json` output stays clean: a
 * line each time what it waits for changes (a paused sync, no worker picking the request up, a plan or
 * delivery Temporal is retrying and why, a Temporal outage), and the run's phases when no progress
 * bar shows them.
 */
import type { Client } from '@temporalio/client';
import type { RunProgress, SyncStatus } from '../workflows/definitions';
import { describeRetry, pendingRetry } from './sync-control';

/** A request not picked up within this long is worth a word: often no worker serves the queue. */
const NOT_STARTED_NOTICE_MS = 5_000;
/** Describing the run to find a retrying activity costs a call: not on every progress poll. */
const RETRY_CHECK_MS = 2_000;

export interface WaitNoticeBoard {
  progress(progress: RunProgress | null, status: SyncStatus): void;
  say(text: string): void;
}

export function waitNotices(
  client: Client,
  syncId: string,
  options: { phases: boolean; write?: (line: string) => void },
): WaitNoticeBoard {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  let last = '';
  const sayOnce = (text: string) => {
    if (text === last) return;
    last = text;
    write(text);
  };
  let waitingSince: number | null = null;
  let retryCheckedAt = 0;
  let retry: string | null = null;

  const checkRetry = async (workflowId: string) => {
    const found = await pendingRetry(client, workflowId);
    retry = found ? `run ${workflowId.split('/').pop()}: ${describeRetry(found)}` : null;
    if (retry) sayOnce(retry);
  };

  return {
    say: sayOnce,
    progress(progress, status) {
      if (!status.currentRun) {
        if (status.paused)
          return sayOnce(
            `${syncId} is paused: the run starts once it is resumed (\`ebb resume ${syncId}\`); waiting for that. ` +
              'Ctrl-C stops waiting and leaves the request queued',
          );
        waitingSince ??= Date.now();
        if (Date.now() - waitingSince > NOT_STARTED_NOTICE_MS)
          sayOnce(
            `waiting for ${syncId}'s run to start: no worker has picked the request up yet (is \`ebb worker\` running for this config?)`,
          );
        return;
      }
      waitingSince = null;
      if (Date.now() - retryCheckedAt > RETRY_CHECK_MS) {
        retryCheckedAt = Date.now();
        void checkRetry(status.currentRun.workflowId);
      }
      if (options.phases && progress && !retry)
        sayOnce(
          progress.phase === 'delivering'
            ? `run ${progress.runNumber}: delivering ${progress.batchesTotal} ${progress.batchesTotal === 1 ? 'batch' : 'batches'}`
            : `run ${progress.runNumber}: ${progress.phase}`,
        );
    },
  };
}
