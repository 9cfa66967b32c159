/**
 * The deletion guard (DESIGN.md invariant 8). A mirror sync deletes the records whose rows left the
 * model, so a model that suddenly returns no rows (a table being rebuilt, a broken filter) would
 * delete every record the sync ever delivered, and the run would report success. The plan counts a
 * run's deletes before anything is sent; above the sync's `maxDeletes` the run stops, unless a
 * person confirmed that one run (`ebb run <sync> --allow-deletes`).
 *
 *   checkDeletionGuard('accounts', { setting: '10%', deletes: 12, delivered: 100 })
 *   // -> { deletes: 12, delivered: 100, limit: 10, source: 'syncs.accounts.maxDeletes: "10%" of 100', ... }
 */
import { PERCENT_PATTERN } from '../config/schema';

/** Applies when a sync sets no `maxDeletes`: a fifth of what it has delivered... */
export const DEFAULT_MAX_DELETES = '20%';
/**
 * ...but never fewer than this many: a small sync would otherwise stop on ordinary churn (a fifth
 * of 20 records is 4), and a handful of wrong deletes is cheap to repair; a whole object is not.
 */
export const DEFAULT_MIN_DELETES = 10;

/** A run the guard stops (or, in a dry run, would stop). Counts only: it goes into workflow history. */
export interface DeletionGuardVerdict {
  /** Records the run would delete. */
  deletes: number;
  /** Records the sync holds as delivered (its snapshots). */
  delivered: number;
  limit: number;
  /** Where the limit comes from, e.g. `syncs.accounts.maxDeletes: 500`. */
  source: string;
  message: string;
}

/** The most deletes a run of `syncId` may make unconfirmed, and where that number comes from. */
export function deletionLimit(
  syncId: string,
  setting: number | string | undefined,
  delivered: number,
): { limit: number; source: string } {
  const key = `syncs.${syncId}.maxDeletes`;
  if (typeof setting === 'number') return { limit: setting, source: `${key}: ${setting}` };
  const percent = Number(PERCENT_PATTERN.exec((setting ?? DEFAULT_MAX_DELETES).trim())?.[1] ?? 0);
  // In hundredths of a percent, so "12.5%" of 8 records is exactly 1, not 0.999...
  const share = Math.floor((Math.round(percent * 100) * delivered) / 10_000);
  if (setting !== undefined) return { limit: share, source: `${key}: "${setting}" of ${delivered}` };
  return {
    limit: Math.max(share, DEFAULT_MIN_DELETES),
    source: `the default of ${key}: "${DEFAULT_MAX_DELETES}" of ${delivered}, and never fewer than ${DEFAULT_MIN_DELETES}`,
  };
}

/** The verdict when `deletes` exceed the sync's limit; null when the run may go ahead. */
export function checkDeletionGuard(
  syncId: string,
  counts: { setting: number | string | undefined; deletes: number; delivered: number },
): DeletionGuardVerdict | null {
  const { deletes, delivered } = counts;
  const { limit, source } = deletionLimit(syncId, counts.setting, delivered);
  if (deletes <= limit) return null;
  const message =
    `sync '${syncId}' would delete ${deletes} of the ${delivered} records it has delivered, ` +
    `more than its limit of ${limit} (${source}); nothing was sent. ` +
    'This usually means the model returned fewer rows than expected (a table being rebuilt, a broken filter). ' +
    `If the deletes are intended, confirm them for one run: ebb run ${syncId} --allow-deletes`;
  return { deletes, delivered, limit, source, message };
}

/** A mirror run would delete more than its sync allows (non-retryable: the same rows trip it again). */
export class DeletionGuardError extends Error {
  constructor(readonly verdict: DeletionGuardVerdict) {
    super(verdict.message);
    this.name = 'DeletionGuardError';
  }
}
