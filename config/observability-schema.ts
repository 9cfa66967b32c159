/**
 * `observability:` in ebb.yaml: where a worker serves its Prometheus metrics, and which sources
 * keep per-record sync logs in a schema of ebb's own (docs/observability.md). Everything is off
 * unless set here (or by EBB_METRICS_ADDRESS).
 */
import { z } from 'zod';

const nonEmpty = z.string().min(1, 'must not be empty');

export const syncLogsSchema = z.strictObject({
  /** The warehouse schema ebb creates for its tables (kept apart from the models'). */
  schema: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a schema name is letters, digits and _, starting with a letter or _')
    .default('ebb'),
  /** Rows of runs that finished more than this many days ago are deleted after each run. */
  retentionDays: z.number().positive().default(30),
});

export const observabilitySchema = z.strictObject({
  metrics: z
    .strictObject({
      /** host:port of each worker's `/metrics` endpoint, e.g. 0.0.0.0:9464. */
      address: nonEmpty.optional(),
    })
    .optional(),
  /** Per source name: append each run's per-record results to `<schema>.sync_logs` in that warehouse. */
  syncLogs: z.record(z.string(), syncLogsSchema).optional(),
});

export type ObservabilityConfig = z.infer<typeof observabilitySchema>;
export type SyncLogsConfig = z.infer<typeof syncLogsSchema>;
