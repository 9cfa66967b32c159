import { DefaultLogger, Runtime } from '@temporalio/worker';

/** Temporal's worker logs every state change at INFO; a CLI shows warnings and errors only. */
export function quietTemporalLogs(): void {
  Runtime.install({ logger: new DefaultLogger((process.env.EBB_LOG_LEVEL as 'WARN' | undefined) ?? 'WARN') });
}
