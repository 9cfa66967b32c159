/** The ebb.yaml shapes of a Slack destination (`destinations.<name>`) and of a sync's Slack keys. */
import { z } from 'zod';

const slackLimitsSchema = z.strictObject({
  batchSize: z.number().int().positive().optional(),
  maxConcurrency: z.number().int().positive().optional(),
  requestsPerSecond: z.number().positive().optional(),
  /** Posts per channel per second this connector allows itself; Slack's own limit is about 1. */
  postsPerChannelPerSecond: z.number().positive().optional(),
});

/** update-in-place (the default) edits a row's message; append posts one per change; mirror also deletes. */
export const SLACK_MODES = ['update-in-place', 'append', 'mirror'] as const;

// Strict, so a misspelt key (`tokn`, `limts`) is reported with the closest key instead of being dropped.
export const slackConnectionSchema = z.strictObject({
  type: z.literal('slack'),
  token: z.string().min(1, 'set the bot token (xoxb-...), usually token: ${SLACK_BOT_TOKEN}'),
  /** Another Web API base URL, e.g. the sandbox's http://127.0.0.1:PORT/api/; an empty value means Slack itself. */
  apiUrl: z.string().optional(),
  limits: slackLimitsSchema.optional(),
});
export type SlackConnection = z.infer<typeof slackConnectionSchema>;

export const slackSyncOptionsSchema = z
  .object({
    /** The sync's destination name, used to point at the right token in error messages. */
    destination: z.string().optional(),
    channel: z.string().min(1).optional(),
    channelFrom: z.string().min(1).optional(),
    template: z.string(),
    blocks: z.string().optional(),
    mode: z.enum(SLACK_MODES).default('update-in-place'),
  })
  .superRefine((options, ctx) => {
    if ((options.channel === undefined) === (options.channelFrom === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: options.channel === undefined ? ['channel'] : ['channelFrom'],
        message: 'give exactly one of channel (e.g. "#cs-alerts") or channelFrom (a column holding the channel)',
      });
    }
  });
export type SlackSyncOptions = z.infer<typeof slackSyncOptionsSchema>;
