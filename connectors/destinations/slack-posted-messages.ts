/**
 * Finds messages ebb already posted, by the metadata it attaches to each of them.
 *
 * Slack has no idempotency key: a chat.postMessage whose answer was lost (worker killed, connection
 * dropped, 429 later in the same batch) cannot be told apart from one never sent, except by looking.
 * Every post therefore carries `metadata.event_payload` naming what it is (sync + key + content hash,
 * or an alert's idempotency key), and a re-executed delivery reads the channel's recent history
 * (`include_all_metadata`) once per channel before posting. Reading is done only on re-execution, so
 * the normal path costs no extra calls.
 */
import type { HistoryMessage, SlackApi } from './slack-api';
import { slackTsAgo } from './slack-api';

export const RECORD_EVENT = 'ebb_record';
export const ALERT_EVENT = 'ebb_alert';

/**
 * How far back a re-execution looks. Attempts of one activity normally follow within minutes; a day
 * also covers a Temporal server or worker fleet that was down for hours.
 */
export const RECOVERY_WINDOW_MS = 24 * 60 * 60 * 1000;

export class PostedMessages {
  private readonly byChannel = new Map<string, Map<string, HistoryMessage[]>>();

  /** `identify` turns a message's event payload into the identity callers look up, or null to ignore it. */
  constructor(
    private readonly api: SlackApi,
    private readonly eventType: string,
    private readonly identify: (payload: Record<string, unknown>) => string | null,
  ) {}

  /** Messages with this identity in the channel's recent history, newest first. */
  async find(channelId: string, identity: string): Promise<HistoryMessage[]> {
    let index = this.byChannel.get(channelId);
    if (!index) {
      index = new Map();
      for await (const message of this.api.history(channelId, slackTsAgo(RECOVERY_WINDOW_MS))) {
        if (message.metadata?.event_type !== this.eventType) continue;
        const id = this.identify(message.metadata.event_payload);
        if (id === null) continue;
        const list = index.get(id) ?? [];
        list.push(message);
        index.set(id, list);
      }
      this.byChannel.set(channelId, index);
    }
    return index.get(identity) ?? [];
  }
}
