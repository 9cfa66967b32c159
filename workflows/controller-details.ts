import { setCurrentDetails } from '@temporalio/workflow';
import { describeOutcome, type SyncStatus } from './definitions';

/** A markdown summary the Temporal UI shows on the controller's page (counts only, no row values). */
export function renderControllerDetails(s: SyncStatus): void {
  const lines = [
    `**sync ${s.syncId}**: ${s.paused ? 'paused' : s.currentRun ? `running run ${s.currentRun.runNumber} (${s.currentRun.kind})` : 'idle'}`,
  ];
  if (s.pending) lines.push(`next: ${s.pending.kind} run queued`);
  if (s.lastRun) {
    const r = s.lastRun;
    lines.push(
      `last run ${r.runNumber} (${r.kind}) **${describeOutcome(r.status, r.failed + r.invalid)}** at ${r.finishedAt}: ` +
        `${r.added} added, ${r.changed} changed, ${r.removed} removed; ${r.succeeded} delivered, ${r.failed} failed, ` +
        `${r.invalid} invalid${r.error ? ` — ${r.error}` : ''}`,
    );
  }
  if (s.overdue) lines.push(`**overdue**: no successful run since ${s.lastSuccessAt ?? 'the controller started'}`);
  lines.push('signals: runNow, fullResync, replayFailed, pause, resume; query: status');
  setCurrentDetails(lines.join('\n\n'));
}
