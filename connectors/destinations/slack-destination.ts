/**
 * Slack destination: one message per model row, rendered from Liquid templates.
 *
 *   syncs:
 *     at-risk-to-slack:
 *       model: account_health
 *       destination: slack
 *       channel: "#cs-alerts"            # or channelFrom: <column holding a channel name or id>
 *       mode: update-in-place            # update-in-place (default) | append | mirror
 *       template: "*{{ name }}* is at risk (MRR {{ mrr | currency }})"
 *       blocks: '[{"type":"section","text":{"type":"mrkdwn","text":"{{ name }}"}}]'   # optional
 *
 * Modes: `update-in-place` keeps one message per row and edits it when the row changes (the
 * destination id is `<channel id>:<ts>`); `append` posts a new message for every change; `mirror`
 * is update-in-place that also deletes the message of a row that left the model.
 *
 * Bot token scopes: chat:write; channels:read and groups:read (channel names to ids);
 * channels:history and groups:history (finding earlier posts when a delivery is re-executed).
 */
import {
  FatalDestinationError,
  RecordPreparationError,
  type DeliveryContext,
  type Destination,
  type DestinationConnector,
  type DestinationLimits,
  type FieldDrift,
  type PreparedRecord,
  type ReadBackResult,
  type RecordOutcome,
  type RecordToDeliver,
  type RecordToReadBack,
  type Row,
} from './destination';
import {
  SLACK_MODES,
  slackConnectionSchema,
  slackSyncOptionsSchema,
  type SlackConnection,
  type SlackSyncOptions,
} from './slack-config';
import { SlackApi, SlackApiError, tsToMicros, type SlackContent } from './slack-api';
import { PostedMessages, RECORD_EVENT } from './slack-posted-messages';
import { compileTemplate, render, TemplateError, type CompiledTemplate } from './slack-templates';

export { postAlert, type PostAlertInput, type PostedAlert } from './slack-alerts';
export {
  slackConnectionSchema,
  slackSyncOptionsSchema,
  type SlackConnection,
  type SlackSyncOptions,
} from './slack-config';

export const SLACK_DEFAULT_LIMITS: DestinationLimits = { batchSize: 20, maxConcurrency: 1, requestsPerSecond: 1 };

/** What `prepare` stores per record (JSON) and `deliver` sends. */
interface SlackPayload {
  channel: string;
  text: string;
  blocks?: unknown[];
}

/** Per-record refusals, with what a person should do about each. */
const RECORD_ERROR_ADVICE: Record<string, (channel: string) => string> = {
  channel_not_found: (c) =>
    `Slack has no channel ${c} that the bot can see: check the channel name or id (private channels need the bot invited)`,
  not_in_channel: (c) => `The bot is not a member of ${c}: invite it (/invite @your-bot) and replay`,
  is_archived: (c) => `${c} is archived: unarchive it or send this sync to another channel`,
  msg_too_long: () => 'The rendered text is longer than Slack allows (40,000 characters): shorten the template',
  no_text: () =>
    'The template rendered an empty message: make sure the template (or blocks) produces text for this row',
  invalid_blocks: () => 'Slack rejected the blocks this row rendered',
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function parseDestinationId(id: string | null): { channel: string; ts: string } | null {
  const at = id?.indexOf(':') ?? -1;
  if (!id || at <= 0) return null;
  return { channel: id.slice(0, at), ts: id.slice(at + 1) };
}

/** A channel deleted or left since the delivery has lost the message as surely as a deleted message. */
function missingChannel(error: unknown): null {
  if (error instanceof SlackApiError && ['channel_not_found', 'not_in_channel'].includes(error.code)) return null;
  throw error;
}

function unescapeEntities(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function compileSyncTemplates(
  sync: SlackSyncOptions,
  syncPath: string,
): { text: CompiledTemplate; blocks: CompiledTemplate | null } {
  return {
    text: compileTemplate(sync.template, `${syncPath}.template`),
    blocks: sync.blocks === undefined ? null : compileTemplate(sync.blocks, `${syncPath}.blocks`, 'json'),
  };
}

class SlackDestination implements Destination {
  readonly limits: DestinationLimits;
  private readonly api: SlackApi;
  private readonly templates: { text: CompiledTemplate; blocks: CompiledTemplate | null };
  private readonly postIntervalMs: number;
  private readonly nextPostAt = new Map<string, number>();

  constructor(
    connection: SlackConnection,
    private readonly sync: SlackSyncOptions & { id: string; primaryKey: string },
  ) {
    const { postsPerChannelPerSecond = 1, ...limits } = connection.limits ?? {};
    this.limits = { ...SLACK_DEFAULT_LIMITS, ...limits };
    this.postIntervalMs = 1000 / postsPerChannelPerSecond;
    this.api = new SlackApi({
      token: connection.token,
      apiUrl: connection.apiUrl || undefined,
      tokenPath: `destinations.${sync.destination ?? '<name>'}.token`,
    });
    try {
      this.templates = compileSyncTemplates(sync, `syncs.${sync.id}`);
    } catch (error) {
      if (error instanceof TemplateError) throw new FatalDestinationError(error.message, { cause: error });
      throw error;
    }
  }

  async check(): Promise<void> {
    await this.api.authTest();
    if (this.sync.channel === undefined) return;
    const where = `syncs.${this.sync.id}.channel`;
    try {
      const channel = await this.api.channel(this.sync.channel);
      if (channel.isArchived)
        throw new FatalDestinationError(
          `${where}: ${this.sync.channel} is archived: unarchive it or choose another channel`,
        );
      if (!channel.isMember)
        throw new FatalDestinationError(
          `${where}: the bot is not a member of ${this.sync.channel}: invite it (/invite @your-bot)`,
        );
    } catch (error) {
      if (error instanceof SlackApiError) {
        throw new FatalDestinationError(
          `${where}: Slack has no channel ${this.sync.channel} that the bot can see (${error.code}): check the name, or invite the bot to the private channel`,
        );
      }
      throw error;
    }
  }

  prepare(row: Row): PreparedRecord {
    const keyValue = row[this.sync.primaryKey];
    if (keyValue === null || keyValue === undefined || keyValue === '') {
      throw new RecordPreparationError(
        `The row has no value in its primary key column ${this.sync.primaryKey}`,
        'MISSING_KEY',
      );
    }
    const channel = this.sync.channel ?? row[this.sync.channelFrom ?? ''];
    if (typeof channel !== 'string' || channel.trim() === '') {
      throw new RecordPreparationError(
        `The row has no channel in column ${this.sync.channelFrom} (channelFrom)`,
        'MISSING_CHANNEL',
      );
    }
    const payload: SlackPayload = { channel: channel.trim(), text: this.renderText(row) };
    if (this.templates.blocks) payload.blocks = this.renderBlocks(this.templates.blocks, row);
    return { key: String(keyValue), payload: { ...payload } };
  }

  private renderText(row: Row): string {
    try {
      return render(this.templates.text, row);
    } catch (error) {
      if (error instanceof TemplateError) throw new RecordPreparationError(error.message, 'TEMPLATE_ERROR');
      throw error;
    }
  }

  private renderBlocks(template: CompiledTemplate, row: Row): unknown[] {
    let rendered: string;
    try {
      rendered = render(template, row);
    } catch (error) {
      if (error instanceof TemplateError) throw new RecordPreparationError(error.message, 'TEMPLATE_ERROR');
      throw error;
    }
    let blocks: unknown;
    try {
      blocks = JSON.parse(rendered);
    } catch (error) {
      throw new RecordPreparationError(
        `${template.where}: did not render valid JSON (${(error as Error).message})`,
        'TEMPLATE_ERROR',
      );
    }
    if (!Array.isArray(blocks))
      throw new RecordPreparationError(`${template.where}: must render a JSON array of blocks`, 'TEMPLATE_ERROR');
    return blocks;
  }

  /**
   * Records are sent one at a time, in order. Any whole-batch trouble (429, 5xx, dropped connection)
   * is thrown and Temporal re-executes the whole batch with the same records. That re-execution is
   * safe without remembering anything in between: updates and deletes are idempotent, and posts are
   * first looked up by their metadata (see slack-posted-messages.ts), so a message accepted by Slack
   * before the failure is adopted instead of posted again.
   */
  async deliver(records: RecordToDeliver[], ctx: DeliveryContext): Promise<RecordOutcome[]> {
    const posted =
      ctx.attempt > 1
        ? new PostedMessages(this.api, RECORD_EVENT, (p) =>
            p.sync === this.sync.id && typeof p.key === 'string' ? p.key : null,
          )
        : null;
    const outcomes: RecordOutcome[] = [];
    for (const record of records) {
      ctx.heartbeat();
      outcomes.push(await this.deliverOne(record, posted));
    }
    return outcomes;
  }

  private async deliverOne(record: RecordToDeliver, posted: PostedMessages | null): Promise<RecordOutcome> {
    const payload = record.payload as unknown as SlackPayload;
    try {
      if (record.operation === 'delete') return await this.deleteOne(record);
      const channelId = await this.api.channelId(payload.channel);
      const previous = parseDestinationId(record.destinationId);
      const content: SlackContent = {
        text: payload.text,
        ...(payload.blocks ? { blocks: payload.blocks } : {}),
        metadata: {
          event_type: RECORD_EVENT,
          event_payload: { sync: this.sync.id, key: record.key, hash: record.hash },
        },
      };
      if (this.sync.mode !== 'append' && previous?.channel === channelId) {
        try {
          await this.api.update(channelId, previous.ts, content);
          return { key: record.key, status: 'succeeded', destinationId: record.destinationId, created: false };
        } catch (error) {
          // Someone deleted the message in Slack: post it again rather than fail the row forever.
          if (!(error instanceof SlackApiError && error.code === 'message_not_found')) throw error;
        }
      }
      const adopted = posted ? await this.findEarlierPost(posted, channelId, record, previous) : null;
      if (adopted && adopted.hash !== record.hash) await this.api.update(channelId, adopted.ts, content);
      const ts = adopted ? adopted.ts : await this.postPaced(channelId, content);
      // A row owns one message outside append mode: when its channel changed, the old message goes.
      if (this.sync.mode !== 'append' && previous && previous.channel !== channelId) await this.deleteMessage(previous);
      return { key: record.key, status: 'succeeded', destinationId: `${channelId}:${ts}`, created: true };
    } catch (error) {
      if (!(error instanceof SlackApiError)) throw error;
      const advice = RECORD_ERROR_ADVICE[error.code]?.(payload.channel) ?? `Slack refused the message (${error.code})`;
      const detail = error.details.length > 0 ? `: ${error.details.join('; ')}` : '';
      return { key: record.key, status: 'failed', errorCode: error.code, errorMessage: `${advice}${detail}` };
    }
  }

  /**
   * A message posted by an earlier attempt of this delivery. In append mode only a message with the
   * same content posted after the last accepted one counts (older ones are earlier changes); in the
   * other modes the row owns one message, so its newest message is reused and brought up to date.
   */
  private async findEarlierPost(
    posted: PostedMessages,
    channelId: string,
    record: RecordToDeliver,
    previous: { channel: string; ts: string } | null,
  ): Promise<{ ts: string; hash: unknown } | null> {
    const candidates = await posted.find(channelId, record.key);
    const after = previous?.channel === channelId ? tsToMicros(previous.ts) : -1n;
    const match =
      this.sync.mode === 'append'
        ? candidates.find((m) => m.metadata?.event_payload.hash === record.hash && tsToMicros(m.ts) > after)
        : candidates[0];
    return match ? { ts: match.ts, hash: match.metadata?.event_payload.hash } : null;
  }

  private async deleteOne(record: RecordToDeliver): Promise<RecordOutcome> {
    const previous = parseDestinationId(record.destinationId);
    if (previous) await this.deleteMessage(previous);
    return { key: record.key, status: 'succeeded', destinationId: null };
  }

  async readBack(records: RecordToReadBack[]): Promise<ReadBackResult[]> {
    const results: ReadBackResult[] = [];
    for (const record of records) {
      const at = parseDestinationId(record.destinationId);
      const stored = at ? await this.api.message(at.channel, at.ts).catch(missingChannel) : null;
      if (!stored) {
        results.push({ key: record.key, status: 'missing' });
        continue;
      }
      const payload = record.payload as unknown as SlackPayload;
      // Slack returns &, < and > escaped as entities whether or not the template escaped them.
      const fields: FieldDrift[] =
        unescapeEntities(stored.text) === unescapeEntities(payload.text)
          ? []
          : [{ field: 'text', sent: payload.text, stored: stored.text }];
      if (payload.blocks && JSON.stringify(stored.blocks) !== JSON.stringify(payload.blocks))
        fields.push({ field: 'blocks', sent: payload.blocks, stored: stored.blocks });
      results.push(
        fields.length ? { key: record.key, status: 'changed', fields } : { key: record.key, status: 'matches' },
      );
    }
    return results;
  }

  private async deleteMessage(message: { channel: string; ts: string }): Promise<void> {
    try {
      await this.api.delete(message.channel, message.ts);
    } catch (error) {
      // Already gone (deleted by hand, or by an earlier attempt of this batch): the goal is reached.
      const gone =
        error instanceof SlackApiError && (error.code === 'message_not_found' || error.code === 'channel_not_found');
      if (!gone) throw error;
    }
  }

  /**
   * Keeps each channel under Slack's posting rate so a batch does not spend its retries on 429s. The
   * interval counts from the previous answer, which Slack sent after it counted that post.
   */
  private async postPaced(channelId: string, content: SlackContent): Promise<string> {
    const wait = (this.nextPostAt.get(channelId) ?? 0) - Date.now();
    if (wait > 0) await sleep(wait);
    try {
      return await this.api.post(channelId, content);
    } finally {
      this.nextPostAt.set(channelId, Date.now() + this.postIntervalMs);
    }
  }

  /** One Web API call per message posted, updated or deleted. */
  estimateRequests({ records }: { records: number }): number {
    return records;
  }

  async close(): Promise<void> {}
}

function staticCheck(input: {
  sync: SlackSyncOptions;
  modelColumns: string[] | null;
}): Array<{ path: (string | number)[]; message: string; hint?: string }> {
  const { sync, modelColumns } = input;
  const problems: Array<{ path: (string | number)[]; message: string; hint?: string }> = [];
  const columnsHint = modelColumns ? `the model selects: ${modelColumns.join(', ')}` : undefined;
  const sources: Array<[field: 'template' | 'blocks', source: string | undefined]> = [
    ['template', sync.template],
    ['blocks', sync.blocks],
  ];
  for (const [field, source] of sources) {
    if (source === undefined) continue;
    let compiled: CompiledTemplate;
    try {
      compiled = compileTemplate(source, field, field === 'blocks' ? 'json' : 'mrkdwn');
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      problems.push({
        path: [field],
        message: `the Liquid template does not parse: ${error.liquidMessage}`,
        hint: 'see https://liquidjs.com for the syntax; ebb adds number, currency, percent, date_iso, mrkdwn and raw filters',
      });
      continue;
    }
    for (const name of modelColumns ? compiled.variables.filter((v) => !modelColumns.includes(v)) : []) {
      problems.push({ path: [field], message: `{{ ${name} }} is not a column of the model`, hint: columnsHint });
    }
  }
  if (sync.channelFrom !== undefined && modelColumns && !modelColumns.includes(sync.channelFrom)) {
    problems.push({
      path: ['channelFrom'],
      message: `channelFrom names ${sync.channelFrom}, which is not a column of the model`,
      hint: columnsHint,
    });
  }
  return problems;
}

export const slackConnector: DestinationConnector<SlackConnection, SlackSyncOptions> = {
  type: 'slack',
  modes: SLACK_MODES,
  connectionSchema: slackConnectionSchema,
  syncOptionsSchema: slackSyncOptionsSchema,
  staticCheck,
  create: ({ connection, sync }) => new SlackDestination(connection, sync),
};
