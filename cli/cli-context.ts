/**
 * What most commands need: the loaded config, the state store and a Temporal client, with
 * connection details from ebb.yaml or the environment:
 *   EBB_TEMPORAL_ADDRESS, EBB_TEMPORAL_NAMESPACE, EBB_TASK_QUEUE,
 *   EBB_TEMPORAL_TLS_CERT / EBB_TEMPORAL_TLS_KEY (mTLS file paths), EBB_TEMPORAL_API_KEY (Temporal Cloud).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { loadConfigOrThrow } from '../config/load-config';
import type { EbbConfig } from '../config/schema';
import { openStateStore, type StateStore } from '../state/state-store';
import { CONTROLLER_TASK_QUEUE } from '../workflows/definitions';

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

function tlsOptions(): ConnectionOptions['tls'] {
  const cert = process.env.EBB_TEMPORAL_TLS_CERT;
  const key = process.env.EBB_TEMPORAL_TLS_KEY;
  if (cert && key) return { clientCertPair: { crt: fs.readFileSync(cert), key: fs.readFileSync(key) } };
  return process.env.EBB_TEMPORAL_API_KEY ? true : undefined;
}

function connectionOptions(ctx: CliContext): ConnectionOptions & NativeConnectionOptions {
  return { address: ctx.config.temporal.address, tls: tlsOptions(), apiKey: process.env.EBB_TEMPORAL_API_KEY };
}

export async function connectClient(ctx: CliContext): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect(connectionOptions(ctx));
  return {
    client: new Client({ connection, namespace: ctx.config.temporal.namespace }),
    close: () => connection.close(),
  };
}

export async function connectNative(ctx: CliContext): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(ctx));
}
