/**
 * What most commands need: the loaded config, the state store and a Temporal client, with
 * connection details from ebb.yaml's `temporal:` block (address, namespace, tls, apiKey) or the
 * environment: EBB_TEMPORAL_ADDRESS, EBB_TEMPORAL_NAMESPACE, EBB_TASK_QUEUE,
 * EBB_TEMPORAL_TLS_CERT / EBB_TEMPORAL_TLS_KEY (mTLS file paths), EBB_TEMPORAL_API_KEY (Temporal Cloud).
 */
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfigOrThrow } from '../config/load-config';
import type { EbbConfig } from '../config/schema';
import { openStateStore, type StateStore } from '../state/state-store';
import { CONTROLLER_TASK_QUEUE } from '../workflows/definitions';
import { temporalConnectionOptions } from './temporal-connection';

export interface CliContext {
  configFile: string;
  baseDir: string;
  config: EbbConfig;
  taskQueue: string;
}

export function defaultConfigFile(): string {
  return process.env.EBB_CONFIG ?? 'ebb.yaml';
}

export function loadCliContext(configFile: string = defaultConfigFile()): CliContext {
  const file = path.resolve(configFile);
  const config = loadConfigOrThrow(file);
  return {
    configFile: file,
    baseDir: path.dirname(file),
    config,
    taskQueue: process.env.EBB_TASK_QUEUE ?? CONTROLLER_TASK_QUEUE,
  };
}

export async function openStore(ctx: CliContext): Promise<StateStore> {
  return openStateStore(
    ctx.config.state.url ? { url: ctx.config.state.url } : { path: path.resolve(ctx.baseDir, ctx.config.state.path) },
  );
}

export async function connectClient(ctx: CliContext): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect(temporalConnectionOptions(ctx.config.temporal, ctx.baseDir));
  return {
    client: new Client({ connection, namespace: ctx.config.temporal.namespace }),
    close: () => connection.close(),
  };
}

export async function connectNative(ctx: CliContext): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectionOptions(ctx.config.temporal, ctx.baseDir));
}
