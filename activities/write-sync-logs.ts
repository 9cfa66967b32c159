/**
 * writeSyncLogs: after a run's results are final, copies them to the sync-log table of the model's
 * warehouse when its source sets `syncLogs` (connectors/sources/sync-log-table.ts). The run's rows
 * are replaced in one transaction, so a retry after a crash writes each record once.
 *
 * Results are read from the state store a page at a time by key: memory holds one page whatever
 * the run's size.
 */
import { openSource } from '../connectors/sources/registry';
import { writeRunLog, type SyncLogRow } from '../connectors/sources/sync-log-table';
import type { DestinationPool, EngineContext } from './engine-context';

const PAGE = 1000;

export async function writeSyncLogs(
  ctx: EngineContext,
  pool: DestinationPool,
  input: { syncId: string; runNumber: number },
  hooks: { onProgress?: () => void } = {},
): Promise<{ written: number; table: string | null }> {
  const { model, source: sourceConfig } = pool.resolve(input.syncId);
  if (!('syncLogs' in sourceConfig) || sourceConfig.syncLogs === undefined) return { written: 0, table: null };
  const source = openSource(sourceConfig, { name: model.source, baseDir: ctx.baseDir });
  try {
    const logs = source.syncLogs;
    if (!logs) return { written: 0, table: null };
    const written = await writeRunLog(logs, { ...input, pages: resultPages(ctx, input, hooks.onProgress) });
    return { written, table: logs.table };
  } finally {
    await source.close();
  }
}

async function* resultPages(
  ctx: EngineContext,
  input: { syncId: string; runNumber: number },
  onPage: () => void = () => undefined,
): AsyncIterable<SyncLogRow[]> {
  let after: string | null = null;
  for (;;) {
    let query = ctx.store.db
      .selectFrom('record_results')
      .select(['key', 'operation', 'status', 'error_code', 'error_message', 'at'])
      .where('sync_id', '=', input.syncId)
      .where('run_number', '=', input.runNumber);
    if (after !== null) query = query.where('key', '>', after);
    const rows = await query.orderBy('key').limit(PAGE).execute();
    if (rows.length === 0) return;
    onPage();
    yield rows.map((r) => ({
      key: r.key,
      operation: r.operation,
      status: r.status,
      errorCode: r.error_code,
      errorMessage: r.error_message,
      at: r.at,
    }));
    if (rows.length < PAGE) return;
    after = rows[rows.length - 1]?.key ?? null;
  }
}
