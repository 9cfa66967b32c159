/**
 * ebb's custom search attributes, so a person can filter syncs and runs in the Temporal UI
 * (`EbbLastRunOutcome = "succeeded_with_failures"`). The dev server ebb starts registers them
 * (sandbox/temporal-dev-server.ts); on a cluster, register them with
 * `temporal operator search-attribute create --name EbbSyncId --type Keyword ...` (README).
 * Workflows write them only when the server has all of them: a server without them rejects the
 * whole workflow task, so the worker checks at start (workers/reconcile-syncs.ts) and says so.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const EbbSyncId = defineSearchAttributeKey('EbbSyncId', SearchAttributeType.KEYWORD);
/** The destination connection's name in ebb.yaml (e.g. `salesforce`). */
export const EbbDestination = defineSearchAttributeKey('EbbDestination', SearchAttributeType.KEYWORD);
/** succeeded | succeeded_with_failures | failed: of the sync's last run (on a run: its own). */
export const EbbLastRunOutcome = defineSearchAttributeKey('EbbLastRunOutcome', SearchAttributeType.KEYWORD);
/** Failed plus invalid records of that run. */
export const EbbFailedRecords = defineSearchAttributeKey('EbbFailedRecords', SearchAttributeType.INT);
/** Whether the sync is paused (by `ebb pause`, the pause signal or its paused Schedule). */
export const EbbPaused = defineSearchAttributeKey('EbbPaused', SearchAttributeType.BOOL);

export const EBB_SEARCH_ATTRIBUTES = [EbbSyncId, EbbDestination, EbbLastRunOutcome, EbbFailedRecords, EbbPaused];

/** The `--search-attribute Name=Type` spelling `temporal server start-dev` and the operator command take. */
export function searchAttributeFlags(): string[] {
  const spelled: Record<string, string> = { KEYWORD: 'Keyword', INT: 'Int', BOOL: 'Bool' };
  return EBB_SEARCH_ATTRIBUTES.map((key) => `${key.name}=${spelled[key.type] ?? key.type}`);
}
