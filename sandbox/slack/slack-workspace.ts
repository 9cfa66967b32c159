/**
 * The in-memory Slack workspace behind the sandbox: channels, messages and the per-channel posting
 * budget, with the semantics of the Web API methods ebb calls. HTTP, auth and faults live in
 * slack-sandbox.ts; this file answers one already-authenticated method call.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { checkBlocks } from './slack-blocks';

export interface SandboxChannelConfig {
  id: string;
  name: string;
  /** Whether the bot has been invited; posting elsewhere answers `not_in_channel`. Default true. */
  member?: boolean;
  archived?: boolean;
  private?: boolean;
  /** Overrides the workspace's chat.postMessage budget for this channel. */
  rateLimit?: PostRateLimit;
}

export interface PostRateLimit {
  /** Sustained chat.postMessage calls per second per channel (Slack: about 1). */
  perSecond: number;
  /** Posts allowed back to back before the sustained rate applies (Slack allows short bursts). */
  burst: number;
}

export interface SandboxMessage {
  channel: string;
  ts: string;
  text: string;
  blocks?: unknown[];
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  /** How many times chat.update changed this message. */
  edits: number;
}

export interface MethodResult {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

/** Text longer than this is refused with `msg_too_long`. */
const MAX_TEXT_LENGTH = 40_000;
const BOT = { userId: 'U0EBBBOT01', botId: 'B0EBBBOT01', appId: 'A0EBBAPP01' };

const ok = (body: Record<string, unknown>): MethodResult => ({ status: 200, body: { ok: true, ...body } });
const fail = (error: string, extra: Record<string, unknown> = {}): MethodResult => ({
  status: 200,
  body: { ok: false, error, ...extra },
});

/** Slack timestamps are "<seconds>.<6 digits>"; as integer microseconds they compare and sort exactly. */
export function tsToMicros(ts: string): number {
  const [sec = '0', frac = ''] = ts.split('.');
  return Number(sec) * 1_000_000 + Number(frac.padEnd(6, '0').slice(0, 6));
}

function microsToTs(us: number): string {
  return `${Math.floor(us / 1_000_000)}.${String(us % 1_000_000).padStart(6, '0')}`;
}

function isTrue(value: unknown): boolean {
  return value === true || value === 'true' || value === '1' || value === 1;
}

function asString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

/** The methods that change messages; the workspace is saved after each that succeeds. */
const CHANGING_METHODS = new Set(['chat.postMessage', 'chat.update', 'chat.delete']);

interface PersistedWorkspace {
  lastTsMicros: number;
  /** Messages by channel id, oldest first. */
  messages: Record<string, SandboxMessage[]>;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export class SlackWorkspace {
  private readonly channels: SandboxChannelConfig[];
  private messages = new Map<string, SandboxMessage[]>();
  private buckets = new Map<string, Bucket>();
  private lastTsMicros = 0;

  constructor(
    channels: SandboxChannelConfig[],
    private readonly postRateLimit: PostRateLimit,
    readonly team: { id: string; name: string },
    /** JSON file the messages are kept in, so a restarted sandbox keeps them (and their ts). */
    private readonly file?: string,
  ) {
    this.channels = channels.map((c) => ({ ...c }));
    if (file && existsSync(file)) this.load(file);
  }

  reset(): void {
    this.messages = new Map();
    this.buckets = new Map();
    this.save();
  }

  call(method: string, args: Record<string, unknown>, nowMs: number): MethodResult {
    const result = this.answer(method, args, nowMs);
    if (CHANGING_METHODS.has(method) && result.body.ok === true) this.save();
    return result;
  }

  private load(file: string): void {
    const persisted = JSON.parse(readFileSync(file, 'utf8')) as PersistedWorkspace;
    this.lastTsMicros = persisted.lastTsMicros;
    this.messages = new Map(Object.entries(persisted.messages));
  }

  /** Written after every change (temp file + rename), so a killed sandbox restarts with what it acknowledged. */
  private save(): void {
    if (!this.file) return;
    const persisted: PersistedWorkspace = {
      lastTsMicros: this.lastTsMicros,
      messages: Object.fromEntries(this.messages),
    };
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(persisted));
    renameSync(tmp, this.file);
  }

  allMessages(channel?: string): SandboxMessage[] {
    const ids = channel === undefined ? this.channels.map((c) => c.id) : [this.findChannel(channel)?.id ?? channel];
    return ids.flatMap((id) => (this.messages.get(id) ?? []).map((m) => structuredClone(m)));
  }

  /** Accepts an id (C0123) or a name with or without '#', as chat.postMessage does. */
  findChannel(ref: string): SandboxChannelConfig | undefined {
    const name = ref.startsWith('#') ? ref.slice(1) : ref;
    return this.channels.find((c) => c.id === ref || c.name === name);
  }

  private answer(method: string, args: Record<string, unknown>, nowMs: number): MethodResult {
    switch (method) {
      case 'auth.test':
        return ok({
          url: `https://${this.team.name}.slack.com/`,
          team: this.team.name,
          user: 'ebb',
          team_id: this.team.id,
          user_id: BOT.userId,
          bot_id: BOT.botId,
          is_enterprise_install: false,
        });
      case 'conversations.list':
        return this.conversationsList(args);
      case 'conversations.info':
        return this.conversationsInfo(args);
      case 'conversations.history':
        return this.conversationsHistory(args);
      case 'chat.postMessage':
        return this.postMessage(args, nowMs);
      case 'chat.update':
        return this.update(args);
      case 'chat.delete':
        return this.delete(args);
      default:
        return fail('unknown_method', { req_method: method });
    }
  }

  private channelObject(c: SandboxChannelConfig): Record<string, unknown> {
    return {
      id: c.id,
      name: c.name,
      is_channel: !c.private,
      is_group: false,
      is_im: false,
      is_private: c.private === true,
      is_archived: c.archived === true,
      is_member: c.member !== false,
      is_general: false,
      created: 1_700_000_000,
      context_team_id: this.team.id,
    };
  }

  private conversationsList(args: Record<string, unknown>): MethodResult {
    const types = (asString(args.types) ?? 'public_channel').split(',').map((t) => t.trim());
    const excludeArchived = isTrue(args.exclude_archived);
    const matching = this.channels.filter(
      (c) => types.includes(c.private ? 'private_channel' : 'public_channel') && !(excludeArchived && c.archived),
    );
    const limit = Math.min(Math.max(Number(asString(args.limit) ?? 100) || 100, 1), 1000);
    const start = Number(
      Buffer.from(asString(args.cursor) ?? '', 'base64')
        .toString()
        .replace('offset:', '') || 0,
    );
    const page = matching.slice(start, start + limit);
    const next = start + limit < matching.length ? Buffer.from(`offset:${start + limit}`).toString('base64') : '';
    return ok({ channels: page.map((c) => this.channelObject(c)), response_metadata: { next_cursor: next } });
  }

  /** The conversations.* methods take a conversation id only, unlike chat.postMessage. */
  private channelById(args: Record<string, unknown>): SandboxChannelConfig | undefined {
    const id = asString(args.channel);
    return this.channels.find((c) => c.id === id);
  }

  private conversationsInfo(args: Record<string, unknown>): MethodResult {
    const channel = this.channelById(args);
    return channel ? ok({ channel: this.channelObject(channel) }) : fail('channel_not_found');
  }

  private conversationsHistory(args: Record<string, unknown>): MethodResult {
    const channel = this.channelById(args);
    if (!channel) return fail('channel_not_found');
    if (channel.member === false) return fail('not_in_channel');
    const inclusive = isTrue(args.inclusive);
    const oldestArg = asString(args.oldest);
    const latestArg = asString(args.latest);
    const oldest = oldestArg === undefined ? -Infinity : tsToMicros(oldestArg);
    let latest = latestArg === undefined ? Infinity : tsToMicros(latestArg);
    const cursor = asString(args.cursor);
    // The cursor continues strictly below the last message already returned.
    const cursorTs = cursor ? tsToMicros(Buffer.from(cursor, 'base64').toString().replace('next_ts:', '')) : undefined;
    if (cursorTs !== undefined) latest = Math.min(latest, cursorTs);
    const limit = Math.min(Math.max(Number(asString(args.limit) ?? 100) || 100, 1), 999);
    const withMetadata = isTrue(args.include_all_metadata);
    const inRange = (this.messages.get(channel.id) ?? [])
      .filter((m) => {
        const t = tsToMicros(m.ts);
        const aboveOldest = inclusive ? t >= oldest : t > oldest;
        const belowLatest = inclusive && cursorTs === undefined ? t <= latest : t < latest;
        return aboveOldest && belowLatest;
      })
      .reverse();
    const page = inRange.slice(0, limit);
    const hasMore = inRange.length > limit;
    const last = page[page.length - 1];
    return ok({
      messages: page.map((m) => this.messageObject(m, withMetadata)),
      has_more: hasMore,
      pin_count: 0,
      response_metadata: { next_cursor: hasMore && last ? Buffer.from(`next_ts:${last.ts}`).toString('base64') : '' },
    });
  }

  private messageObject(m: SandboxMessage, withMetadata: boolean): Record<string, unknown> {
    return {
      type: 'message',
      subtype: 'bot_message',
      text: m.text,
      ts: m.ts,
      user: BOT.userId,
      bot_id: BOT.botId,
      app_id: BOT.appId,
      team: this.team.id,
      ...(m.blocks ? { blocks: m.blocks } : {}),
      ...(withMetadata && m.metadata ? { metadata: m.metadata } : {}),
      ...(m.edits > 0 ? { edited: { user: BOT.userId, ts: m.ts } } : {}),
    };
  }

  /** Validates the content arguments shared by chat.postMessage and chat.update. */
  private content(args: Record<string, unknown>): MethodResult | Pick<SandboxMessage, 'text' | 'blocks' | 'metadata'> {
    const text = asString(args.text) ?? '';
    let blocks: unknown[] | undefined;
    if (args.blocks !== undefined && args.blocks !== '') {
      const checked = checkBlocks(args.blocks);
      if (!checked.ok)
        return fail('invalid_blocks', {
          errors: checked.errors,
          response_metadata: { messages: checked.errors.map((e) => `[ERROR] ${e}`) },
        });
      blocks = checked.blocks.length > 0 ? checked.blocks : undefined;
    }
    if (text === '' && !blocks && args.attachments === undefined) return fail('no_text');
    if (text.length > MAX_TEXT_LENGTH) return fail('msg_too_long');
    let metadata: SandboxMessage['metadata'];
    if (args.metadata !== undefined && args.metadata !== '') {
      let parsed: unknown = args.metadata;
      try {
        if (typeof parsed === 'string') parsed = JSON.parse(parsed);
      } catch {
        return fail('invalid_metadata_format');
      }
      const candidate = parsed as Record<string, unknown> | null;
      if (
        !candidate ||
        typeof candidate.event_type !== 'string' ||
        typeof candidate.event_payload !== 'object' ||
        candidate.event_payload === null
      ) {
        return fail('invalid_metadata_format');
      }
      metadata = {
        event_type: candidate.event_type,
        event_payload: candidate.event_payload as Record<string, unknown>,
      };
    }
    return { text, blocks, metadata };
  }

  private writableChannel(args: Record<string, unknown>): MethodResult | SandboxChannelConfig {
    const channel = this.findChannel(asString(args.channel) ?? '');
    if (!channel) return fail('channel_not_found');
    if (channel.archived) return fail('is_archived');
    if (channel.member === false) return fail('not_in_channel');
    return channel;
  }

  /** Token bucket per channel; answers the whole seconds until the next post would be allowed, or 0. */
  private takePostToken(channel: SandboxChannelConfig, nowMs: number): number {
    const limit = channel.rateLimit ?? this.postRateLimit;
    const bucket = this.buckets.get(channel.id) ?? { tokens: limit.burst, updatedMs: nowMs };
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((nowMs - bucket.updatedMs) / 1000) * limit.perSecond);
    bucket.updatedMs = nowMs;
    this.buckets.set(channel.id, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / limit.perSecond));
  }

  private nextTs(nowMs: number): string {
    this.lastTsMicros = Math.max(nowMs * 1000, this.lastTsMicros + 1);
    return microsToTs(this.lastTsMicros);
  }

  private postMessage(args: Record<string, unknown>, nowMs: number): MethodResult {
    const channel = this.writableChannel(args);
    if ('status' in channel) return channel;
    const content = this.content(args);
    if ('status' in content) return content;
    const retryAfter = this.takePostToken(channel, nowMs);
    if (retryAfter > 0)
      return { status: 429, body: { ok: false, error: 'ratelimited' }, headers: { 'Retry-After': String(retryAfter) } };
    const message: SandboxMessage = { channel: channel.id, ts: this.nextTs(nowMs), ...content, edits: 0 };
    if (message.blocks === undefined) delete message.blocks;
    if (message.metadata === undefined) delete message.metadata;
    const list = this.messages.get(channel.id) ?? [];
    list.push(message);
    this.messages.set(channel.id, list);
    return ok({ channel: channel.id, ts: message.ts, message: this.messageObject(message, true) });
  }

  private findMessage(
    args: Record<string, unknown>,
  ): MethodResult | { channel: SandboxChannelConfig; index: number; list: SandboxMessage[] } {
    const channel = this.findChannel(asString(args.channel) ?? '');
    if (!channel) return fail('channel_not_found');
    const ts = asString(args.ts);
    const list = this.messages.get(channel.id) ?? [];
    const index = list.findIndex((m) => m.ts === ts);
    if (index < 0) return fail('message_not_found');
    return { channel, index, list };
  }

  private update(args: Record<string, unknown>): MethodResult {
    const found = this.findMessage(args);
    if ('status' in found) return found;
    if (found.channel.archived) return fail('is_archived');
    const content = this.content(args);
    if ('status' in content) return content;
    const message = found.list[found.index] as SandboxMessage;
    message.text = content.text;
    // Slack: sending text without blocks removes the blocks; metadata is kept unless replaced.
    if (content.blocks) message.blocks = content.blocks;
    else delete message.blocks;
    if (content.metadata) message.metadata = content.metadata;
    message.edits += 1;
    return ok({
      channel: found.channel.id,
      ts: message.ts,
      text: message.text,
      message: this.messageObject(message, true),
    });
  }

  private delete(args: Record<string, unknown>): MethodResult {
    const found = this.findMessage(args);
    if ('status' in found) return found;
    const [removed] = found.list.splice(found.index, 1);
    return ok({ channel: found.channel.id, ts: removed?.ts });
  }
}
