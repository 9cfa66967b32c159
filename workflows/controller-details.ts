import { setCurrentDetails } from '@temporalio/workflow';
import { describeOutcome, type FailureReason, type RunSummary, type SyncStatus } from './definitions';

/**
 * A markdown summary the Temporal UI shows on the controller's page (counts, codes and keys only,
 * no row values): its state, the last run and why records failed, and requests it refused.
 */
export function renderControllerDetails(s: SyncStatus, summary?: string, closed?: string | null): void {
  const state = closed
    ? closed
    : s.paused
      ? `paused${s.pausedBy === 'schedule' ? ' (its Schedule was paused in the Temporal UI)' : ''}; resume with \`ebb resume ${s.syncId}\` or the resume signal`
      : s.currentRun
        ? `running run ${s.currentRun.runNumber} (${s.currentRun.kind})`
        : 'idle';
  const lines = [`**sync ${s.syncId}**: ${state}`];
  if (summary) lines.push(summary);
  if (s.pending) lines.push(`next: ${s.pending.kind} run queued`);
  if (s.lastRun) lines.push(...lastRunLines(s.lastRun, s.syncId));
  if (s.overdue) lines.push(`**overdue**: no successful run since ${s.lastSuccessAt ?? 'the controller started'}`);
  if (s.skippedWhilePaused) lines.push(`scheduled triggers skipped while paused: ${s.skippedWhilePaused}`);
  if (s.rejected?.length) {
    lines.push(
      '**rejected requests** (newest last):\n\n' +
        s.rejected.map((r) => `- ${r.at} \`${r.name}\`: ${r.reason}`).join('\n'),
    );
  }
  lines.push('signals and updates: runNow, fullResync, replayFailed, pause, resume; query: status');
  setCurrentDetails(lines.join('\n\n'));
}

function lastRunLines(r: RunSummary, syncId: string): string[] {
  return [
    `last run ${r.runNumber} (${r.kind}) **${describeOutcome(r.status, r.failed + r.invalid)}** at ${r.finishedAt}: ` +
      `${r.added} added, ${r.changed} changed, ${r.removed} removed; ${r.succeeded} delivered, ${r.failed} failed, ` +
      `${r.invalid} invalid${r.error ? ` — ${r.error}` : ''}`,
    ...failureLines(r.failureReasons, syncId, r.runNumber),
  ];
}

/** 'STRING_TOO_LONG: 3 records', one line per error code, and where the records and messages are. */
export function failureLines(reasons: FailureReason[] | undefined, syncId: string, runNumber: number): string[] {
  if (!reasons?.length) return [];
  return [
    '**why records failed**:\n\n' +
      reasons.map((f) => `- \`${f.code}\`: ${f.count} ${f.count === 1 ? 'record' : 'records'}`).join('\n'),
    `which records, and the messages: \`ebb records ${syncId} --run ${runNumber} --failed\``,
  ];
}

/** The fixed details of a run workflow: what it does, where to look for its records. */
export function runDetails(syncId: string, runNumber: number, kind: string, summary: string): string {
  return [
    `**run ${runNumber} of sync ${syncId}** (${kind}): ${summary}`,
    'plan (read the model, diff against the last delivery, stage changed rows) -> deliver batches -> finish (commit cursor and snapshots) -> notify.',
    `records: \`ebb records ${syncId} --run ${runNumber}\`; the run's current details show its progress and, at the end, why records failed.`,
  ].join('\n\n');
}
