/**
 * Posts an engine alert (a failed run, too many failed records) to Slack exactly once per
 * idempotency key, even when the notify activity is retried after its post was accepted.
 *
 *   await postAlert({ connection, channel: '#ebb-alerts', text: 'accounts-to-sf run 12 failed', idempotencyKey: 'accounts-to-sf/12/failed' });
 */
import { FatalDestinationError } from './destination';
import { SlackApi, SlackApiError } from './slack-api';
import { slackConnectionSchema } from './slack-config';
import { ALERT_EVENT, PostedMessages } from './slack-posted-messages';

export interface PostAlertInput {
  /** The alert destination's `destinations.<name>` entry; it must be a Slack one. */
  connection: Record<string, unknown>;
  /** `#name`, `name` or a channel id. */
  channel: string;
  /** Sent as is: the engine writes it, so it is not escaped. */
  text: string;
  /** Same key, same alert: a second call finds the first message instead of posting again. */
  idempotencyKey: string;
  /** The destination's name in ebb.yaml, for error messages. */
  destinationName?: string;
}

export interface PostedAlert {
  channel: string;
  ts: string;
  /** False when an earlier call had already posted this alert. */
  posted: boolean;
}

/** Throws FatalDestinationError for a channel or token that cannot work, TransientDestinationError for trouble worth retrying. */
export async function postAlert(input: PostAlertInput): Promise<PostedAlert> {
  const connection = slackConnectionSchema.safeParse(input.connection);
  if (!connection.success) {
    throw new FatalDestinationError(
      `The alert destination ${input.destinationName ?? ''} is not a usable Slack destination (alerts go to Slack): ${connection.error.issues.map((i) => `${i.path.join('.') || 'type'}: ${i.message}`).join('; ')}`,
    );
  }
  const api = new SlackApi({
    token: connection.data.token,
    apiUrl: connection.data.apiUrl || undefined,
    tokenPath: `destinations.${input.destinationName ?? '<name>'}.token`,
  });
  try {
    const channel = await api.channel(input.channel);
    // Alerts are rare, so every call looks first: the notify activity may be a re-execution.
    const earlier = new PostedMessages(api, ALERT_EVENT, (p) =>
      typeof p.idempotencyKey === 'string' ? p.idempotencyKey : null,
    );
    const [existing] = await earlier.find(channel.id, input.idempotencyKey);
    if (existing) return { channel: channel.id, ts: existing.ts, posted: false };
    const ts = await api.post(channel.id, {
      text: input.text,
      metadata: { event_type: ALERT_EVENT, event_payload: { idempotencyKey: input.idempotencyKey } },
    });
    return { channel: channel.id, ts, posted: true };
  } catch (error) {
    if (error instanceof SlackApiError) {
      throw new FatalDestinationError(
        `Cannot post the alert to ${input.channel}: ${error.message}. Check the alert channel and that the bot is a member.`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
}
