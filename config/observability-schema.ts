/**
 * `observability:` in ebb.yaml: where a worker serves its Prometheus metrics. Off unless set here
 * (or by EBB_METRICS_ADDRESS).
 */
import { z } from 'zod';

const nonEmpty = z.string().min(1, 'must not be empty');

export const observabilitySchema = z.strictObject({
  metrics: z
    .strictObject({
      /** host:port of each worker's `/metrics` endpoint, e.g. 0.0.0.0:9464. */
      address: nonEmpty.optional(),
    })
    .optional(),
});

export type ObservabilityConfig = z.infer<typeof observabilitySchema>;
