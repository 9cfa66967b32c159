/**
 * One API budget per destination connection: the share of the org's daily allowance that every
 * sync and worker using the connection spends together.
 *
 *   destinations:
 *     salesforce:
 *       type: salesforce
 *       apiBudget: { maxPercent: 20 }        # a fifth of the org's DailyApiRequests.Max
 *       # or:    { requestsPerDay: 1000 }
 *
 * Each request is taken from the share before it is sent, through a counter the engine keeps in the
 * state store (one atomic increment per connection and window), so two workers together never send
 * more than the share; in-process memory could not promise that. Once the share of the current
 * window is spent the request is refused with `ApiBudgetExhausted`, which carries the time the next
 * window starts: the engine pauses the connection's syncs until then, says so in `ebb status`, and
 * alerts once.
 *
 * Windows are fixed, aligned to the Unix epoch: UTC days by default. Salesforce counts its allowance
 * over a rolling 24 hours, so a share of N a day is N per UTC day, not N in any 24 hours.
 */
import { z } from 'zod';
import { DestinationError, FatalDestinationError } from './destination';

const secondsPerDay = 86_400;

export const apiBudgetSchema = z
  .strictObject({
    maxPercent: z
      .number()
      .positive()
      .max(100)
      .optional()
      .describe("Share of the org's daily API allowance (DailyApiRequests.Max) this connection may use, in percent"),
    requestsPerDay: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Requests a day this connection may use, whatever the allowance'),
    windowSeconds: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Advanced: length of the budget window in seconds (default 86400, a UTC day); tests shorten it'),
  })
  .refine((b) => (b.maxPercent === undefined) !== (b.requestsPerDay === undefined), {
    message:
      'apiBudget needs exactly one of maxPercent (e.g. { maxPercent: 20 }) or requestsPerDay (e.g. { requestsPerDay: 1000 })',
  })
  .describe('The share of the daily API allowance all syncs and workers of this connection spend together');

export type ApiBudgetConfig = z.infer<typeof apiBudgetSchema>;

/**
 * Where the engine keeps what a connection spent, shared by every worker (the state store). The
 * connector never sees the store itself (connectors do not import `state/`).
 */
export interface SharedRequestCounter {
  /**
   * Adds `requests` to the connection's count for the window starting at `windowStart` if the count
   * stays within `share`, atomically, and remembers `share` for the window. True when taken.
   */
  take(input: { connection: string; windowStart: string; share: number; requests: number }): Promise<boolean>;
  /** The share a worker remembered for this window (maxPercent needs the org's limit), or null. */
  knownShare(input: { connection: string; windowStart: string }): Promise<number | null>;
}

/** The share of this connection's current window is spent: its syncs wait until `until`. */
export class ApiBudgetExhausted extends DestinationError {
  constructor(
    readonly connection: string,
    readonly share: number,
    readonly windowStart: Date,
    readonly until: Date,
    perWindow: string,
  ) {
    super(
      `paused for API budget until ${until.toISOString()}: destination '${connection}' has used its share of ${share} API requests ${perWindow}. ` +
        `Every sync of '${connection}' waits and resumes by itself when the next window starts; ` +
        `raise destinations.${connection}.apiBudget to allow more`,
    );
  }

  /** Milliseconds from `now` until the next window starts. */
  retryAfterMs(now = Date.now()): number {
    return Math.max(0, this.until.getTime() - now);
  }
}

/** Window arithmetic of a budget: fixed windows of `windowSeconds`, aligned to the epoch. */
export function budgetWindow(config: ApiBudgetConfig, now: number): { start: Date; end: Date } {
  const length = (config.windowSeconds ?? secondsPerDay) * 1000;
  const start = Math.floor(now / length) * length;
  return { start: new Date(start), end: new Date(start + length) };
}

/** "a day", or "per 30-second window" for a shortened window. */
function perWindow(config: ApiBudgetConfig): string {
  const seconds = config.windowSeconds ?? secondsPerDay;
  return seconds === secondsPerDay ? 'a day' : `per ${seconds}-second window`;
}

/**
 * The gate a connector's session passes every request through.
 *
 *   const budget = new ConnectionApiBudget('salesforce', { maxPercent: 20 }, counter);
 *   await budget.take({ orgLimit: () => usage?.limit ?? null, learnOrgLimit: () => fetchLimits() });
 */
export class ConnectionApiBudget {
  constructor(
    readonly connection: string,
    readonly config: ApiBudgetConfig,
    private readonly counter: SharedRequestCounter,
  ) {}

  /** The share for an org whose daily allowance is `orgLimit`; null when it depends on an unknown limit. */
  shareFor(orgLimit: number | null): number | null {
    if (this.config.requestsPerDay !== undefined) return this.config.requestsPerDay;
    if (orgLimit === null) return null;
    return Math.floor((orgLimit * (this.config.maxPercent as number)) / 100);
  }

  /**
   * Takes one request from the share, or throws ApiBudgetExhausted. For a maxPercent share the org's
   * limit must be known: from the caller (the last Sforce-Limit-Info), else from another worker that
   * learned it this window, else by `learnOrgLimit` (GET /limits), whose request is taken too. A
   * share nobody has learned this window has had nothing taken from it, so that one request fits.
   */
  async take(org: { orgLimit: () => number | null; learnOrgLimit: () => Promise<number | null> }): Promise<void> {
    const window = budgetWindow(this.config, Date.now());
    const windowStart = window.start.toISOString();
    let requests = 1;
    let share = this.shareFor(org.orgLimit());
    share ??= await this.counter.knownShare({ connection: this.connection, windowStart });
    if (share === null) {
      share = this.shareFor(await org.learnOrgLimit());
      requests = 2;
      if (share === null) {
        throw new FatalDestinationError(
          `destination '${this.connection}' has apiBudget.maxPercent, but the org did not report its daily API allowance (DailyApiRequests in /limits); set apiBudget.requestsPerDay instead`,
        );
      }
    }
    const taken =
      requests <= share && (await this.counter.take({ connection: this.connection, windowStart, share, requests }));
    if (!taken) throw new ApiBudgetExhausted(this.connection, share, window.start, window.end, perWindow(this.config));
  }
}
