/**
 * The ebb.yaml shapes of a HubSpot destination (`destinations.<name>`) and of a sync's keys.
 *
 *   destinations:
 *     hubspot:
 *       type: hubspot
 *       accessTokenEnv: HUBSPOT_ACCESS_TOKEN   # the variable holding the private app's token (the default)
 *       # accessTokenFile: ./secrets/hubspot-token   # or a file holding it (relative to ebb.yaml)
 *   syncs:
 *     accounts-to-hubspot:
 *       model: account_health
 *       destination: hubspot
 *       object: companies                     # contacts, companies, deals, or any object type (2-1234567)
 *       mode: mirror                          # upsert (default) | mirror (also archives rows that left)
 *       idProperty: { from: account_id, to: external_account_id }
 *       mapping: { name: name, health: health_score, segment: segment }
 *
 * The token is never written in ebb.yaml: the config names where it is, so an error can say which
 * variable or file to fix, and a committed ebb.yaml cannot hold it.
 */
import { z } from 'zod';

/** HubSpot's batch endpoints take at most 100 inputs a request. */
export const HUBSPOT_MAX_BATCH = 100;

/** upsert (the default) creates or updates by idProperty; mirror also archives records whose rows left. */
export const HUBSPOT_MODES = ['upsert', 'mirror'] as const;

export const DEFAULT_TOKEN_ENV = 'HUBSPOT_ACCESS_TOKEN';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const hubspotLimitsSchema = z.strictObject({
  batchSize: z
    .number()
    .int()
    .positive()
    .max(HUBSPOT_MAX_BATCH, 'HubSpot takes at most 100 inputs a batch request')
    .optional(),
  maxConcurrency: z.number().int().positive().optional(),
  /**
   * Requests per second across every worker (default 9): HubSpot allows a private app 100 requests
   * per 10 seconds on Free and Starter, 190 on Professional and Enterprise (set 18 there).
   */
  requestsPerSecond: z.number().positive().optional(),
});

export const hubspotConnectionSchema = z
  .strictObject({
    type: z.literal('hubspot'),
    /** Name of the environment variable holding the private app's access token (default HUBSPOT_ACCESS_TOKEN). */
    accessTokenEnv: z
      .string()
      .regex(ENV_NAME, 'the name of an environment variable, e.g. HUBSPOT_ACCESS_TOKEN (not the token itself)')
      .optional(),
    /** A file holding the access token instead (relative to ebb.yaml), e.g. a mounted Kubernetes secret. */
    accessTokenFile: z.string().min(1).optional(),
    /** Refused with a pointer to the two settings above: the token itself never goes in ebb.yaml. */
    accessToken: z
      .unknown()
      .refine(
        () => false,
        'the access token does not go in ebb.yaml: name the environment variable holding it with accessTokenEnv (default HUBSPOT_ACCESS_TOKEN), or a file with accessTokenFile',
      )
      .optional()
      .describe('Not accepted: use accessTokenEnv or accessTokenFile'),
    /** API base URL, e.g. the sandbox's http://127.0.0.1:PORT; empty or unset means https://api.hubapi.com. */
    basePath: z.string().optional(),
    /**
     * HubSpot resets the daily request limit at midnight in the account's time zone: an IANA name
     * such as America/New_York (default UTC). A sync that hits the daily limit waits until then.
     */
    timeZone: z
      .string()
      .refine((zone) => isTimeZone(zone), 'an IANA time zone such as UTC or America/New_York')
      .default('UTC'),
    limits: hubspotLimitsSchema.optional(),
  })
  .superRefine((connection, ctx) => {
    if (connection.accessTokenEnv !== undefined && connection.accessTokenFile !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['accessTokenFile'],
        message: 'set either accessTokenEnv or accessTokenFile, not both',
      });
    }
  });
export type HubSpotConnection = z.infer<typeof hubspotConnectionSchema>;

export const hubspotSyncOptionsSchema = z.object({
  /** The sync's destination name, used to point at the right settings in error messages. */
  destination: z.string().optional(),
  /** The object type: contacts, companies, deals, tickets, a custom object's name or its id (2-1234567). */
  object: z.string().min(1, 'object must name a HubSpot object type, e.g. companies or contacts'),
  /** The column whose value names the record, and the unique-value property HubSpot matches it by. */
  idProperty: z.strictObject({
    from: z.string().min(1, 'idProperty.from must name a model column'),
    to: z
      .string()
      .min(
        1,
        'idProperty.to must name a unique-value HubSpot property, e.g. external_account_id (or email for contacts)',
      ),
  }),
  /** Model column -> HubSpot property (internal name): { name: name, health: health_score }. */
  mapping: z
    .record(z.string().min(1), z.string().min(1))
    .describe('Model column -> HubSpot property internal name (health: health_score)'),
});
export type HubSpotSyncOptions = z.infer<typeof hubspotSyncOptionsSchema>;

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
