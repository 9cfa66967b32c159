/**
 * The shape of ebb.yaml as zod schemas; every config type is inferred from here.
 *
 * Destination connections are validated by their connector's own `connectionSchema`. Connector
 * options of a sync depend on the destination it names, so load-config.ts validates them against
 * `syncOptionsSchema` once the destination is known; here a sync keeps its extra keys as they are.
 */
import { z } from 'zod';
import { knownNamesHint } from './closest-name';
import { destinationConnectors } from '../connectors/destinations/registry';
import { sourceConnectors } from '../connectors/sources/registry';
import { cronProblem, parseEvery, type Schedule } from './schedule';
import { noteKnownKeys } from './zod-problems';
import { observabilitySchema } from './observability-schema';

/** Source, destination, model and sync names end up in Temporal workflow ids such as `sync/<id>`. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]*$/;

export const nameSchema = z
  .string()
  .regex(NAME_PATTERN, 'names use lowercase letters, digits, - and _, and start with a letter or digit');

const nonEmpty = z.string().min(1, 'must not be empty');

export const stateSchema = z.strictObject({
  /** SQLite file of the embedded state store. */
  path: nonEmpty.default('.ebb/state.sqlite'),
  /** postgres:// URL of a shared state store; when set, `path` is unused. */
  url: nonEmpty.optional(),
  /** How long per-record results are kept (state/retention.ts; runs' summaries stay forever). */
  retention: z
    .strictObject({
      /** Results of at most each sync's latest N runs. */
      runs: z.number().int().positive().default(100),
      /** Results of no run started more than D days ago. */
      days: z.number().positive().default(30),
      /**
       * From the latest run back, accepted records' results while they number at most this many per
       * record the sync holds: 1 is about one full run's worth (failed records' results are kept
       * within runs and days).
       */
      resultsPerRecord: z.number().positive().default(1),
    })
    .default({ runs: 100, days: 30, resultsPerRecord: 1 }),
});

/** TLS to the Temporal frontend; file paths are relative to ebb.yaml. `tls: true` uses the system's CAs. */
export const temporalTlsSchema = z.union([
  z.boolean(),
  z
    .strictObject({
      /** Name to check the server's certificate against, when it differs from the address's host. */
      serverName: nonEmpty.optional(),
      /** PEM file of the CA that signed the server's certificate (a private cluster's own CA). */
      serverRootCaCertPath: nonEmpty.optional(),
      /** PEM files of this client's certificate and key, for mTLS. */
      clientCertPath: nonEmpty.optional(),
      clientKeyPath: nonEmpty.optional(),
    })
    .refine((tls) => Boolean(tls.clientCertPath) === Boolean(tls.clientKeyPath), {
      message: 'clientCertPath and clientKeyPath go together: mTLS needs both the certificate and its key',
      path: ['clientKeyPath'],
    }),
]);

export const temporalSchema = z.strictObject({
  address: nonEmpty.default('127.0.0.1:7233'),
  namespace: nonEmpty.default('default'),
  tls: temporalTlsSchema.optional(),
  /**
   * Temporal Cloud API key as `${TEMPORAL_API_KEY}` (a key written in the file is refused:
   * config/literal-secrets.ts); turns TLS on unless `tls: false`.
   */
  apiKey: nonEmpty.optional(),
  /** A file holding the API key instead (relative to ebb.yaml), e.g. a mounted Kubernetes secret. */
  apiKeyPath: nonEmpty.optional(),
  /**
   * The engine's task queue (delivery queues are `<queue>-dest-<destination>`); default `ebb`, or
   * `ebb-<deployment>` when the config names a deployment.
   */
  taskQueue: nonEmpty.optional(),
});

/**
 * A `{ type, ... }` entry whose settings belong to the connector its `type` names: an unknown type
 * names the known ones, and the connector's own schema checks the rest (unknown keys at any depth
 * with the closest known key).
 */
function typedByConnector<T>(kind: string, schemaOf: (type: string) => z.ZodType | undefined, types: () => string[]) {
  return z.looseObject({ type: nonEmpty }).transform((value, ctx) => {
    const schema = schemaOf(value.type);
    if (!schema) {
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: `unknown ${kind} type '${value.type}'`,
        params: { hint: knownNamesHint(`${kind} types`, value.type, types()) },
      });
      return z.NEVER;
    }
    const parsed = schema.safeParse(value, { error: noteKnownKeys });
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue({ ...issue });
      return z.NEVER;
    }
    return parsed.data as T;
  });
}

/** `sources.<name>` after its connector's `configSchema` accepted it (defaults applied). */
export type SourceConfig = { type: string } & Record<string, unknown>;

/** Each source type owns its settings (connectors/sources/<type>/). */
export const sourceSchema = typedByConnector<SourceConfig>(
  'source',
  (type) => sourceConnectors[type]?.configSchema,
  () => Object.keys(sourceConnectors),
);

/** `destinations.<name>` after its connector's `connectionSchema` accepted it (defaults applied). */
export type DestinationConnection = { type: string } & Record<string, unknown>;

export const destinationConnectionSchema = typedByConnector<DestinationConnection>(
  'destination',
  (type) => destinationConnectors[type]?.connectionSchema,
  () => Object.keys(destinationConnectors),
);

export const modelSchema = z.strictObject({
  source: nameSchema,
  /** Column that identifies a row; it becomes the record key at the destination. */
  primaryKey: nonEmpty,
  sql: nonEmpty,
  /** Monotonic column (e.g. updated_at) for `changeDetection: cursor`. */
  cursor: nonEmpty.optional(),
});

export const scheduleSchema = z
  .strictObject({ every: z.string().optional(), cron: z.string().optional() })
  .superRefine((schedule, ctx) => {
    if ((schedule.every === undefined) === (schedule.cron === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'a schedule needs exactly one of every or cron',
        params: { hint: 'e.g. { every: 15m } or { cron: "*/15 * * * *" }' },
      });
      return;
    }
    if (schedule.every !== undefined && parseEvery(schedule.every) === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['every'],
        message: `'${schedule.every}' is not a duration`,
        params: { hint: 'write a positive whole number and a unit: 30s, 15m, 2h or 1d' },
      });
    }
    const problem = schedule.cron === undefined ? undefined : cronProblem(schedule.cron);
    if (problem !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['cron'],
        message: `'${schedule.cron}' is not a cron expression: ${problem}`,
        params: { hint: 'five fields: minute hour day-of-month month day-of-week, e.g. "*/15 * * * *"' },
      });
    }
  })
  .transform((schedule): Schedule =>
    schedule.every !== undefined ? { every: schedule.every } : { cron: schedule.cron ?? '' },
  );

export const alertSchema = z.strictObject({
  /** A slack destination that receives run failures. */
  destination: nameSchema,
  channel: nonEmpty,
  /** Alert when a run leaves at least this many failed records (a failed run always alerts). */
  failedRecordsThreshold: z.number().int().positive().optional(),
  /**
   * Whether alerts may quote error messages, which can contain row values (a warehouse's conversion
   * error, Salesforce's "data value too large: ..."); off by default: alerts then carry counts, keys
   * and error codes only, and the messages stay in `ebb records`.
   */
  quoteValues: z.boolean().default(false),
});

/** `maxDeletes: "10%"`: a share of the records a sync has delivered (up to two decimals). */
export const PERCENT_PATTERN = /^(\d{1,3}(?:\.\d{1,2})?)%$/;

/**
 * The deletion guard of a mirror sync: the most records one run may delete without a person's
 * confirmation (`ebb run <sync> --allow-deletes`). A count (`500`) or a percentage of the records the
 * sync has delivered (`"10%"`); the default is in activities/deletion-guard.ts.
 */
export const maxDeletesSchema = z.union([z.number(), z.string()]).superRefine((value, ctx) => {
  const hint = 'a whole number of records (maxDeletes: 500) or a percentage of those delivered (maxDeletes: "10%")';
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0)
      ctx.addIssue({ code: 'custom', message: `${value} is not a number of records`, params: { hint } });
    return;
  }
  const percent = PERCENT_PATTERN.exec(value.trim());
  if (!percent) {
    ctx.addIssue({ code: 'custom', message: `'${value}' is neither a count nor a percentage`, params: { hint } });
  } else if (Number(percent[1]) > 100) {
    ctx.addIssue({
      code: 'custom',
      message: `'${value}' is more than 100%`,
      params: { hint: '"100%" lets a run delete every record without confirmation' },
    });
  }
});

/** Keys every sync has, whatever its destination; the rest belong to the destination's connector. */
export const baseSyncSchema = z.looseObject({
  model: nameSchema,
  destination: nameSchema,
  /** Destination-specific (see sync-modes.ts); when absent the connector's default applies. */
  mode: nonEmpty.optional(),
  /** SQL predicate applied to the model's rows. */
  filter: nonEmpty.optional(),
  changeDetection: z.enum(['diff', 'cursor']).default('diff'),
  schedule: scheduleSchema.optional(),
  alert: alertSchema.optional(),
  /** Mirror mode: deletes one run may make without `--allow-deletes` (default "20%", never fewer than 10). */
  maxDeletes: maxDeletesSchema.optional(),
  /**
   * Updates of delivered records send only the fields whose values changed since the last accepted
   * delivery (destinations that write field by field, such as Salesforce); false sends every field.
   */
  changedFieldsOnly: z.boolean().default(true),
});

export const BASE_SYNC_KEYS: readonly string[] = Object.keys(baseSyncSchema.shape);

/** A sync, with the checks that relate its keys to each other. */
export const syncSchema = baseSyncSchema.superRefine((sync, ctx) => {
  // Only mirror mode deletes; a limit elsewhere would read as a protection that is not there.
  if (sync.maxDeletes !== undefined && sync.mode !== 'mirror') {
    ctx.addIssue({
      code: 'custom',
      path: ['maxDeletes'],
      message: `maxDeletes applies only to mode: mirror, and this sync's mode is ${sync.mode ?? "its destination's default"}`,
      params: { hint: 'remove maxDeletes, or set mode: mirror if the sync should delete records' },
    });
  }
});

export const ebbConfigSchema = z.strictObject({
  /**
   * Names this ebb among others on one Temporal namespace (staging and prod, two teams): it prefixes
   * workflow ids, schedule ids and the task queue, and is recorded in the state store, whose workers
   * then refuse a config of another deployment (workflows/temporal-names.ts).
   */
  deployment: nameSchema.optional(),
  state: stateSchema.default({ path: '.ebb/state.sqlite', retention: { runs: 100, days: 30, resultsPerRecord: 1 } }),
  temporal: temporalSchema.default({ address: '127.0.0.1:7233', namespace: 'default' }),
  sources: z.record(nameSchema, sourceSchema).default({}),
  destinations: z.record(nameSchema, destinationConnectionSchema).default({}),
  models: z.record(nameSchema, modelSchema).default({}),
  syncs: z.record(nameSchema, syncSchema).default({}),
  /** Metrics endpoint and warehouse sync logs (config/observability-schema.ts); off by default. */
  observability: observabilitySchema.optional(),
});

export type EbbConfig = z.infer<typeof ebbConfigSchema>;
export type StateConfig = z.infer<typeof stateSchema>;
export type TemporalConfig = z.infer<typeof temporalSchema>;
export type TemporalTlsConfig = z.infer<typeof temporalTlsSchema>;
export type ModelConfig = z.infer<typeof modelSchema>;
export type AlertConfig = z.infer<typeof alertSchema>;
/** A sync: the base keys plus its connector's options (already validated by `syncOptionsSchema`). */
export type SyncConfig = z.infer<typeof baseSyncSchema>;
export type { Schedule };
