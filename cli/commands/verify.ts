/**
 * `ebb verify <sync>`: reads a sample of delivered records back from the destination and reports
 * drift (missing records, fields changed behind ebb's back). Sends nothing and changes no state.
 * Exits 0 when the sample matches, VERIFY_DRIFT_EXIT_CODE when it found drift.
 */
import { DestinationPool } from '../../activities/engine-context';
import { verifyDelivered, type VerifyReport } from '../../activities/verify-delivered';
import { resolveSync } from '../../config/load-config';
import { loadCliContext, openStore } from '../cli-context';
import { ExitError } from '../exit-error';
import { count, excerpt, printJson, printTable, say } from '../output';
import { DEFAULT_VERIFY_SAMPLE, VERIFY_DRIFT_EXIT_CODE } from './verify-options';

export { DEFAULT_VERIFY_SAMPLE, VERIFY_DRIFT_EXIT_CODE };

export async function verifyCommand(options: {
  config?: string;
  sync: string;
  sample?: number;
  json?: boolean;
}): Promise<void> {
  const ctx = loadCliContext(options.config);
  resolveSync(ctx.config, options.sync);
  const store = await openStore(ctx);
  const engine = { config: ctx.config, baseDir: ctx.baseDir, store, taskQueue: ctx.taskQueue, client: null };
  const pool = new DestinationPool(engine);
  let report: VerifyReport;
  try {
    report = await verifyDelivered(engine, pool, {
      syncId: options.sync,
      sample: options.sample ?? DEFAULT_VERIFY_SAMPLE,
    });
  } finally {
    await pool.closeAll();
    await store.close();
  }
  const drift = report.missing.length + report.changed.length + report.crmEdits.length > 0;
  if (options.json) printJson({ ...report, drift });
  else printReport(report);
  if (drift) throw new ExitError(VERIFY_DRIFT_EXIT_CODE);
}

const shown = (value: unknown): string =>
  value === undefined ? '(no field)' : value === null ? 'null' : excerpt(JSON.stringify(value));

function printReport(report: VerifyReport): void {
  const firstChanges = report.changed
    .slice(0, 3)
    .map((c) => `${c.key}: ${c.fields.map((f) => `${f.field} ${shown(f.sent)} → ${shown(f.stored)}`).join(', ')}`);
  const more = report.changed.length > 3 ? `, and ${report.changed.length - 3} more` : '';
  say(
    `verified ${count(report.verified, 'record')} of ${report.sync}: ${report.missing.length} missing, ` +
      `${report.changed.length} changed${firstChanges.length ? ` (${firstChanges.join('; ')}${more})` : ''}, ` +
      `${report.pending.length} pending`,
  );
  if (report.verified === 0) {
    say(`  nothing delivered to check: run the sync first (ebb run ${report.sync})`);
    return;
  }
  const rows = [
    ...report.missing.map((m) => ({
      key: m.key,
      drift: 'missing',
      field: '',
      sent: '',
      stored: '',
      id: m.destinationId,
    })),
    ...report.changed.flatMap((c) =>
      c.fields.map((f) => ({
        key: c.key,
        drift: 'changed',
        field: f.field,
        sent: shown(f.sent),
        stored: shown(f.stored),
        id: c.destinationId,
      })),
    ),
    // Fields of records the warehouse changed otherwise (pending): edited in the destination.
    ...report.crmEdits
      .filter((e) => !report.changed.some((c) => c.key === e.key))
      .flatMap((e) =>
        e.fields.map((f) => ({
          key: e.key,
          drift: 'crm-side edit',
          field: f.field,
          sent: shown(f.sent),
          stored: shown(f.stored),
          id: e.destinationId,
        })),
      ),
  ];
  if (rows.length) {
    say('');
    printTable(rows, ['key', 'drift', 'field', 'sent', 'stored', 'id']);
    say('');
    say(`the next \`ebb run ${report.sync} --full\` sends these records again, overwriting the changes`);
  }
  const edited = report.crmEdits.flatMap((e) => e.fields.map((f) => `${e.key} ${f.field}`));
  if (edited.length)
    say(
      `${count(edited.length, 'CRM-side edit')} (a field edited in the destination whose warehouse value ebb did not change): ` +
        `${excerpt(edited.join(', '))}; runs with changedFieldsOnly (the default) leave them as they are`,
    );
  if (report.pending.length)
    say(
      `${count(report.pending.length, 'record')} changed in the warehouse since their last delivery; the next run sends them`,
    );
}
