/**
 * ebb's structured logs: pino, one JSON object per line, each carrying the sync id, run number,
 * workflow id, batch and attempt of the activity that logged it (activity-scope.ts adds them to
 * Temporal's activity log attributes). The Temporal Runtime's logger is routed here (runtime.ts), so
 * the SDK's own activity, workflow and worker logs come out the same way.
 *
 * What goes in: ids, counts, durations, error codes and the failure messages Temporal already
 * stores in history (which carry no row values, DESIGN.md invariant 3). Never a row value, a record
 * key or a setting's value: loggers get counts from activity results, not the records.
 *
 * `EBB_LOG_FORMAT=json|pretty` (default: pretty on a terminal, JSON otherwise, for log collectors);
 * `EBB_LOG_LEVEL=DEBUG|INFO|WARN|ERROR` (default INFO for ebb's events; the SDK's worker lifecycle
 * chatter shows from DEBUG only).
 */
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/worker';
import pino, { type Logger } from 'pino';

export type LogFormat = 'json' | 'pretty';

export interface LogSink {
  write(line: string): void;
}

export interface LoggingOptions {
  format?: LogFormat;
  level?: string;
  /** Where lines go (default stderr, so a command's own output on stdout stays clean). */
  sink?: LogSink;
}

const LEVELS: Record<string, pino.Level> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

export function createLogger(options: LoggingOptions = {}): Logger {
  const format = options.format ?? defaultFormat();
  const level = LEVELS[(options.level ?? process.env.EBB_LOG_LEVEL ?? 'INFO').toUpperCase()] ?? 'info';
  const out: LogSink = options.sink ?? process.stderr;
  const sink = format === 'json' ? out : { write: (line: string) => out.write(prettyLine(line)) };
  return pino(
    {
      level,
      base: undefined,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    sink,
  );
}

function defaultFormat(): LogFormat {
  const env = process.env.EBB_LOG_FORMAT?.toLowerCase();
  if (env === 'json' || env === 'pretty') return env;
  return process.stderr.isTTY ? 'pretty' : 'json';
}

/** Fields shown first in a pretty line, in this order; the rest follow as key=value. */
const LEADING = ['syncId', 'runNumber', 'batch', 'attempt', 'workflowId'];
const HIDDEN = new Set(['time', 'level', 'msg', 'sdkComponent', 'namespace', 'taskToken', 'workflowRunId']);

/** `12:00:01.234 INFO  batch delivered syncId=a runNumber=3 batch=2 succeeded=50`, for people. */
export function prettyLine(jsonLine: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine;
  }
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
  const level = String(entry.level ?? '').toUpperCase();
  const keys = [...LEADING.filter((k) => k in entry), ...Object.keys(entry).filter((k) => !LEADING.includes(k))];
  const fields = keys
    .filter((k) => !HIDDEN.has(k) && entry[k] !== undefined)
    .map((k) => `${k}=${typeof entry[k] === 'string' ? (entry[k] as string) : JSON.stringify(entry[k])}`);
  return `${time} ${level.padEnd(5)} ${String(entry.msg ?? '')}${fields.length ? ` ${fields.join(' ')}` : ''}\n`;
}

/** Messages of Temporal's worker that are expected and say nothing (delivery queues have no workflows). */
const EXPECTED = /^No workflows registered/;

/**
 * The Temporal Runtime's logger, writing through `logger`. The SDK's worker and core lifecycle
 * messages are one level quieter than activity and workflow logs, so INFO shows ebb's events.
 */
export function temporalLogger(logger: Logger): TemporalLogger {
  const write = (level: LogLevel, message: string, meta?: LogMetadata) => {
    if (EXPECTED.test(message)) return;
    const component = typeof meta?.sdkComponent === 'string' ? meta.sdkComponent : undefined;
    const lifecycle = component === 'worker' || component === 'core';
    let target = LEVELS[level] ?? 'info';
    if (lifecycle && (target === 'info' || target === 'debug')) target = 'debug';
    const { sdkComponent: _component, ...fields } = meta ?? {};
    // A failed task's error: its type and message (what history holds too), not its stack.
    if (fields.error instanceof Error) fields.error = { type: fields.error.name, message: fields.error.message };
    logger[target](fields, message);
  };
  return {
    log: write,
    trace: (message, meta) => write('TRACE', message, meta),
    debug: (message, meta) => write('DEBUG', message, meta),
    info: (message, meta) => write('INFO', message, meta),
    warn: (message, meta) => write('WARN', message, meta),
    error: (message, meta) => write('ERROR', message, meta),
  };
}
