/**
 * The ebb.yaml shapes of a webhook destination (`destinations.<name>`) and of a sync's keys.
 *
 *   destinations:
 *     hooks:
 *       type: webhook
 *       url: https://example.com/ebb-hook
 *       secret: ${WEBHOOK_SECRET}          # or secretFile: ./webhook.secret (never the secret itself)
 *       delivery: batch                    # batch (default): one POST per batch | record: one POST per record
 *   syncs:
 *     accounts-to-hook:
 *       model: account_health
 *       destination: hooks
 *       mode: mirror                       # upsert (default) | insert | mirror (also sends deletes)
 *       mapping: { account_id: id, name: name, health: health_score }   # optional: every column as is
 */
import { z } from 'zod';

/** Records one batch-mode request carries at most; a bigger body is more likely refused by proxies. */
export const WEBHOOK_MAX_BATCH = 1000;

export const WEBHOOK_MODES = ['upsert', 'insert', 'mirror'] as const;

const webhookLimitsSchema = z.strictObject({
  /** Records per POST in batch mode (default 100, at most 1,000); record mode always sends one. */
  batchSize: z
    .number()
    .int()
    .positive()
    .max(WEBHOOK_MAX_BATCH, 'a webhook batch holds at most 1,000 records')
    .optional(),
  maxConcurrency: z.number().int().positive().optional(),
  requestsPerSecond: z.number().positive().optional(),
});

export const webhookConnectionSchema = z
  .strictObject({
    type: z.literal('webhook'),
    /** Where every request goes: an https:// URL (http:// only for a receiver on this machine). */
    url: z.url({ protocol: /^https?$/, error: 'an http(s) URL such as https://example.com/ebb-hook' }),
    /** The HMAC-SHA256 key, from the environment: `secret: ${WEBHOOK_SECRET}` (a secret written here is refused). */
    secret: z.string().min(1, 'set the signing secret from the environment, e.g. secret: ${WEBHOOK_SECRET}').optional(),
    /** A file holding the signing secret (relative to ebb.yaml), e.g. a mounted Kubernetes secret. */
    secretFile: z.string().min(1).optional(),
    /** batch: one POST per batch of records (default); record: one POST per record. */
    delivery: z.enum(['batch', 'record']).default('batch'),
    /** How long one request may take before it counts as lost and is retried (default 30 s). */
    timeoutMs: z.number().int().positive().max(600_000).default(30_000),
    limits: webhookLimitsSchema.optional(),
  })
  .refine((c) => (c.secret === undefined) !== (c.secretFile === undefined), {
    message: 'give the signing secret once: secret: ${WEBHOOK_SECRET} or secretFile: ./webhook.secret',
    path: ['secret'],
  });
export type WebhookConnection = z.infer<typeof webhookConnectionSchema>;

export const webhookSyncOptionsSchema = z.object({
  /** The sync's destination name, used to point at the right setting in error messages. */
  destination: z.string().optional(),
  mode: z.enum(WEBHOOK_MODES).default('upsert'),
  /** Model column -> field name in each record's `data`; without it every column goes under its own name. */
  mapping: z
    .record(z.string().min(1), z.string().min(1))
    .refine((m) => Object.keys(m).length > 0, 'map at least one column, or leave mapping out to send every column')
    .optional(),
});
export type WebhookSyncOptions = z.infer<typeof webhookSyncOptionsSchema>;
