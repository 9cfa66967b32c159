/**
 * Environment variables that override ebb.yaml, so one config file serves a laptop and a
 * docker-compose deployment (where EBB_TEMPORAL_ADDRESS=temporal:7233 and the state is Postgres).
 * TLS and API key variables (EBB_TEMPORAL_TLS_*, EBB_TEMPORAL_API_KEY[_FILE]) are read when connecting,
 * so their files are read then and named in errors: TEMPORAL_CONNECTION_ENVIRONMENT in
 * cli/temporal-connection.ts.
 */
import type { EbbConfig } from './schema';

export const ENVIRONMENT_OVERRIDES = {
  EBB_TEMPORAL_ADDRESS: 'temporal.address',
  EBB_TEMPORAL_NAMESPACE: 'temporal.namespace',
  EBB_TASK_QUEUE: 'temporal.taskQueue',
  EBB_STATE_PATH: 'state.path',
  EBB_STATE_URL: 'state.url',
} as const;

export function applyEnvironmentOverrides(
  config: EbbConfig,
  env: Readonly<Record<string, string | undefined>>,
): EbbConfig {
  const set = (name: keyof typeof ENVIRONMENT_OVERRIDES): string | undefined => (env[name] ? env[name] : undefined);
  return {
    ...config,
    temporal: {
      ...config.temporal,
      address: set('EBB_TEMPORAL_ADDRESS') ?? config.temporal.address,
      namespace: set('EBB_TEMPORAL_NAMESPACE') ?? config.temporal.namespace,
      ...((set('EBB_TASK_QUEUE') ?? config.temporal.taskQueue)
        ? { taskQueue: set('EBB_TASK_QUEUE') ?? config.temporal.taskQueue }
        : {}),
    },
    state: {
      path: set('EBB_STATE_PATH') ?? config.state.path,
      retention: config.state.retention,
      ...((set('EBB_STATE_URL') ?? config.state.url) ? { url: set('EBB_STATE_URL') ?? config.state.url } : {}),
    },
  };
}
