/** Sync schedules: `{ every: 15m }` or `{ cron: "*\/15 * * * *" }`. */
import type * as CronParser from 'cron-parser';

// Loaded for the first cron schedule: a config of `every` schedules never needs it.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy, see above
const cronParser = () => require('cron-parser') as typeof CronParser;

const EVERY = /^(\d+)\s*(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export type Schedule = { every: string } | { cron: string };

/** Milliseconds of an `every` duration such as 30s, 15m, 2h or 1d; undefined when it does not parse. */
export function parseEvery(every: string): number | undefined {
  const match = EVERY.exec(every.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = match[2] as keyof typeof UNIT_MS;
  return amount > 0 ? amount * UNIT_MS[unit] : undefined;
}

/** Why a cron expression does not parse, or undefined when it does. */
export function cronProblem(cron: string): string | undefined {
  const fields = cron.trim().split(/\s+/).length;
  // cron-parser fills in missing fields, which would silently turn a typo like `*/15 * *` into a schedule.
  if (!cron.trim().startsWith('@') && fields !== 5 && fields !== 6) {
    return `expected 5 fields (minute hour day-of-month month day-of-week), got ${fields}`;
  }
  try {
    cronParser().CronExpressionParser.parse(cron, { strict: false });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * How often a schedule fires. Exact for `every`; for cron, the gap between its next two fire times
 * (cron gaps can vary, e.g. `0 9 * * 1-5`, so this is the next gap, not a constant).
 */
export function scheduleIntervalMs(schedule: Schedule, now: Date = new Date()): number {
  if ('every' in schedule) {
    const ms = parseEvery(schedule.every);
    if (ms === undefined)
      throw new Error(`Schedule 'every: ${schedule.every}' does not parse: use e.g. 30s, 15m, 2h or 1d`);
    return ms;
  }
  const expression = cronParser().CronExpressionParser.parse(schedule.cron, { currentDate: now, tz: 'UTC' });
  const first = expression.next().getTime();
  const second = expression.next().getTime();
  return second - first;
}
