/**
 * The slice of the Slack Web API the Slack destination calls, over `@slack/web-api`, with Slack's
 * failures already sorted into ebb's three levels: transient and fatal trouble become
 * TransientDestinationError / FatalDestinationError; anything Slack says about one message
 * (`channel_not_found`, `invalid_blocks`, ...) becomes SlackApiError for the caller to record.
 */
import { countRequest } from './request-counter';
import type * as SlackWebApi from '@slack/web-api';
import type { Logger, WebAPICallResult, WebClient } from '@slack/web-api';

// Loaded when a Slack connection is first used: every CLI command loads the connector registry.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy, see above
const slackWebApi = () => require('@slack/web-api') as typeof SlackWebApi;
import { FatalDestinationError, TransientDestinationError } from './destination';

/** Slack refused one call for a reason tied to its arguments; `code` is Slack's `error` string. */
export class SlackApiError extends Error {
  constructor(
    readonly code: string,
    /** Slack's `errors` list (e.g. invalid_blocks JSON pointers), when it sends one. */
    readonly details: string[],
  ) {
    super(details.length > 0 ? `Slack answered ${code}: ${details.join('; ')}` : `Slack answered ${code}`);
    this.name = new.target.name;
  }
}

export interface SlackMetadata {
  event_type: string;
  event_payload: Record<string, unknown>;
}

export interface SlackContent {
  text: string;
  blocks?: unknown[];
  metadata: SlackMetadata;
}

export interface HistoryMessage {
  ts: string;
  metadata?: SlackMetadata;
}

export interface SlackChannel {
  id: string;
  name: string | null;
  isArchived: boolean;
  isMember: boolean;
}

/** Codes that mean the token itself is wrong: no retry or other record can succeed. */
const TOKEN_ERRORS = new Set([
  'invalid_auth',
  'token_revoked',
  'not_authed',
  'token_expired',
  'account_inactive',
  'missing_scope',
  'no_permission',
]);
/** Codes Slack documents as temporary on its side. */
const TRANSIENT_ERRORS = new Set([
  'ratelimited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

/** Slack channel ids start with C (public), G (private, legacy) or D (direct message); names are lowercase. */
const CHANNEL_ID = /^[CGD][A-Z0-9]{6,}$/;
/** How long a listed channel name stays trusted before a miss triggers a fresh conversations.list. */
const CHANNEL_LIST_TTL_MS = 60_000;

/**
 * Every failure reaches the engine as a typed error or a per-record outcome, where it is stored and
 * shown; the SDK's own console logging would print each one again for every row.
 */
const quietLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => slackWebApi().LogLevel.ERROR,
  setName: () => undefined,
};

export interface SlackApiOptions {
  token: string;
  apiUrl?: string;
  /** Where the token is configured, named in fatal messages, e.g. `destinations.slack.token`. */
  tokenPath: string;
}

export class SlackApi {
  private readonly client: WebClient;
  private channelsByName = new Map<string, SlackChannel>();
  private listedAtMs = -Infinity;

  constructor(private readonly options: SlackApiOptions) {
    // Temporal owns retries (with backoff and Retry-After); the client must neither retry nor sleep.
    this.client = new (slackWebApi().WebClient)(options.token, {
      slackApiUrl: options.apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: 30_000,
      logger: quietLogger,
    });
  }

  async authTest(): Promise<{ team: string; user: string }> {
    const result = await this.call('auth.test', {});
    return { team: String(result.team ?? ''), user: String(result.user ?? '') };
  }

  /**
   * Resolves `#name`, `name` or an id to a channel id. chat.update, chat.delete and conversations.*
   * take ids only, and destination ids must stay valid when a channel is renamed, so ebb works in ids.
   * An id is trusted as is (the call using it reports a bad one); a name costs one conversations.list
   * per minute at most. Throws SlackApiError('channel_not_found') for a name the bot cannot see.
   */
  async channelId(ref: string): Promise<string> {
    const trimmed = ref.trim();
    return CHANNEL_ID.test(trimmed) ? trimmed : (await this.channelByName(trimmed.replace(/^#/, ''))).id;
  }

  /** Like channelId, with the channel's archived and membership state. */
  async channel(ref: string): Promise<SlackChannel> {
    const trimmed = ref.trim();
    if (!CHANNEL_ID.test(trimmed)) return this.channelByName(trimmed.replace(/^#/, ''));
    const result = await this.call('conversations.info', { channel: trimmed });
    return toChannel(result.channel);
  }

  private async channelByName(name: string): Promise<SlackChannel> {
    let found = this.channelsByName.get(name);
    if (!found && Date.now() - this.listedAtMs > CHANNEL_LIST_TTL_MS) {
      await this.listChannels();
      found = this.channelsByName.get(name);
    }
    if (!found) throw new SlackApiError('channel_not_found', []);
    return found;
  }

  private async listChannels(): Promise<void> {
    const byName = new Map<string, SlackChannel>();
    let cursor: string | undefined;
    do {
      const result = await this.call('conversations.list', {
        types: 'public_channel,private_channel',
        limit: 1000,
        cursor,
      });
      for (const raw of Array.isArray(result.channels) ? result.channels : []) {
        const channel = toChannel(raw);
        if (channel.name) byName.set(channel.name, channel);
      }
      cursor = result.response_metadata?.next_cursor || undefined;
    } while (cursor);
    this.channelsByName = byName;
    this.listedAtMs = Date.now();
  }

  async post(channelId: string, content: SlackContent): Promise<string> {
    const result = await this.call('chat.postMessage', { channel: channelId, ...content });
    return String(result.ts);
  }

  async update(channelId: string, ts: string, content: SlackContent): Promise<void> {
    // Slack drops the blocks of a message updated with text only, so a template without blocks clears old ones.
    await this.call('chat.update', { channel: channelId, ts, ...content });
  }

  async delete(channelId: string, ts: string): Promise<void> {
    await this.call('chat.delete', { channel: channelId, ts });
  }

  /**
   * The text and blocks of the message at `ts`, or null when the channel no longer has it (deleted
   * by hand). Slack has no "get message by ts": a history window of exactly that ts is the way.
   */
  async message(channelId: string, ts: string): Promise<{ text: string; blocks?: unknown[] } | null> {
    const result = await this.call('conversations.history', {
      channel: channelId,
      latest: ts,
      oldest: ts,
      inclusive: true,
      limit: 1,
    });
    const raw = (Array.isArray(result.messages) ? (result.messages as Record<string, unknown>[]) : []).find(
      (m) => m.ts === ts,
    );
    if (!raw) return null;
    return {
      text: typeof raw.text === 'string' ? raw.text : '',
      ...(Array.isArray(raw.blocks) ? { blocks: raw.blocks } : {}),
    };
  }

  /** Messages of a channel newer than `oldestTs`, newest first, with their metadata. */
  async *history(channelId: string, oldestTs: string): AsyncIterable<HistoryMessage> {
    let cursor: string | undefined;
    do {
      const result = await this.call('conversations.history', {
        channel: channelId,
        oldest: oldestTs,
        include_all_metadata: true,
        limit: 200,
        cursor,
      });
      for (const raw of Array.isArray(result.messages) ? (result.messages as Record<string, unknown>[]) : []) {
        if (typeof raw.ts === 'string') yield { ts: raw.ts, metadata: toMetadata(raw.metadata) };
      }
      cursor = result.has_more ? result.response_metadata?.next_cursor || undefined : undefined;
    } while (cursor);
  }

  private async call(
    method: string,
    args: Record<string, unknown>,
  ): Promise<WebAPICallResult & Record<string, unknown>> {
    countRequest();
    try {
      return (await this.client.apiCall(method, args)) as WebAPICallResult & Record<string, unknown>;
    } catch (error) {
      throw this.classify(method, error);
    }
  }

  private classify(method: string, error: unknown): Error {
    const coded = error as {
      code?: string;
      retryAfter?: number;
      statusCode?: number;
      data?: { error?: string; errors?: unknown; needed?: string };
    };
    const { ErrorCode } = slackWebApi();
    switch (coded.code) {
      case ErrorCode.RateLimitedError:
        return new TransientDestinationError(`Slack rate-limited ${method}; retry in ${coded.retryAfter ?? '?'} s`, {
          cause: error,
          retryAfterMs: coded.retryAfter === undefined ? undefined : coded.retryAfter * 1000,
        });
      case ErrorCode.RequestError:
        return new TransientDestinationError(`Could not reach Slack for ${method}: ${(error as Error).message}`, {
          cause: error,
        });
      case ErrorCode.HTTPError: {
        const status = coded.statusCode ?? 0;
        if (status >= 500 || status === 408)
          return new TransientDestinationError(`Slack answered HTTP ${status} to ${method}`, { cause: error });
        return new FatalDestinationError(
          `Slack answered HTTP ${status} to ${method} at ${this.options.apiUrl ?? 'https://slack.com/api/'}: check the destination's apiUrl`,
          { cause: error },
        );
      }
      case ErrorCode.PlatformError: {
        const code = coded.data?.error ?? 'unknown_error';
        if (code === 'missing_scope') {
          return new FatalDestinationError(
            `The Slack token in ${this.options.tokenPath} lacks the scope ${coded.data?.needed ?? '(unknown)'} needed for ${method}: add it to the Slack app and reinstall it`,
            { cause: error },
          );
        }
        if (TOKEN_ERRORS.has(code)) {
          return new FatalDestinationError(
            `Slack refused the token (${code}): fix the token in ${this.options.tokenPath} (usually SLACK_BOT_TOKEN)`,
            {
              cause: error,
            },
          );
        }
        if (TRANSIENT_ERRORS.has(code))
          return new TransientDestinationError(`Slack answered ${code} to ${method}`, { cause: error });
        const details = Array.isArray(coded.data?.errors) ? coded.data.errors.map(String) : [];
        return new SlackApiError(code, details);
      }
      default:
        return error instanceof Error ? error : new Error(String(error));
    }
  }
}

function toChannel(raw: unknown): SlackChannel {
  const c = (raw ?? {}) as Record<string, unknown>;
  return {
    id: String(c.id),
    name: typeof c.name === 'string' ? c.name : null,
    isArchived: c.is_archived === true,
    isMember: c.is_member !== false,
  };
}

function toMetadata(raw: unknown): SlackMetadata | undefined {
  const m = raw as Partial<SlackMetadata> | undefined;
  if (!m || typeof m.event_type !== 'string' || typeof m.event_payload !== 'object' || m.event_payload === null)
    return undefined;
  return { event_type: m.event_type, event_payload: m.event_payload };
}

/** Slack timestamps compare exactly as integer microseconds, never as floats. */
export function tsToMicros(ts: string): bigint {
  const [sec = '0', frac = ''] = ts.split('.');
  return BigInt(sec) * 1_000_000n + BigInt(frac.padEnd(6, '0').slice(0, 6) || '0');
}

/** The Slack timestamp of the moment `ms` milliseconds ago, for `oldest`. */
export function slackTsAgo(ms: number): string {
  return ((Date.now() - ms) / 1000).toFixed(6);
}
