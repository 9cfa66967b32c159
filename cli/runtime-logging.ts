import { DefaultLogger, Runtime, type LogEntry, type LogLevel } from '@temporalio/worker';

/** Expected on delivery queues, which run activities only. */
const EXPECTED = /^No workflows registered/;

/**
 * Temporal's worker logs every state change at INFO; a CLI (and the tests) show warnings and errors
 * only (EBB_LOG_LEVEL=INFO|DEBUG for more). Installs the runtime once per process.
 */
export function quietTemporalLogs(): void {
  const level = (process.env.EBB_LOG_LEVEL?.toUpperCase() as LogLevel | undefined) ?? 'WARN';
  const log = (entry: LogEntry) => {
    if (EXPECTED.test(entry.message)) return;
    process.stderr.write(
      `${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} [${entry.level}] ${entry.message} ${entry.meta ? JSON.stringify(entry.meta) : ''}\n`,
    );
  };
  try {
    Runtime.install({ logger: new DefaultLogger(level, log) });
  } catch {
    // Already installed in this process (e.g. by an earlier test file in the same jest worker).
  }
}
