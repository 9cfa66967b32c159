/**
 * What most commands need: the loaded config, the state store and a Temporal client, with
 * connection details from ebb.yaml's `temporal:` block (address, namespace, tls, apiKey) or the
 * environment: EBB_TEMPORAL_ADDRESS, EBB_TEMPORAL_NAMESPACE, EBB_TASK_QUEUE (or `temporal.taskQueue`),
 * EBB_TEMPORAL_TLS_CERT / EBB_TEMPORAL_TLS_KEY (mTLS file paths), EBB_TEMPORAL_API_KEY (Temporal Cloud).
 *
 * The Temporal address comes from, in order: `--temporal-address`, EBB_TEMPORAL_ADDRESS, ebb.yaml's
 * `temporal.address`, a running `ebb dev` (.ebb/dev.json), and 127.0.0.1:7233.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { CORE_SCHEMA, load } from 'js-yaml';
import { loadConfigOrThrow } from '../config/load-config';
import type { EbbConfig } from '../config/schema';
import { checkDeployment, stateStoreName } from '../state/deployment-claim';
import type { StateStore } from '../state/state-store';
import { TemporalNames } from '../workflows/temporal-names';
import { findDevEnvironment } from './dev-environment-file';
import {
  TemporalUnreachableError,
  temporalAddressFlag,
  temporalConnectionOptions,
  type AddressSource,
} from './temporal-connection';

export interface CliContext {
  configFile: string;
  baseDir: string;
  config: EbbConfig;
  /** Workflow ids, schedule ids and task queue of the config's deployment. */
  names: TemporalNames;
  taskQueue: string;
  /** Where `config.temporal.address` came from, for messages about it. */
  addressSource: AddressSource;
}

/** How long the CLI waits for the Temporal frontend before saying it cannot reach it. */
export const TEMPORAL_CONNECT_TIMEOUT_MS = 5_000;

export function defaultConfigFile(): string {
  return process.env.EBB_CONFIG ?? 'ebb.yaml';
}

/**
 * The top-level `temporal:` entry of a block-style ebb.yaml, as text (null when there is none), so
 * that a config of 500 syncs is not parsed twice (the whole parse took 0.8 s of `ebb status`).
 */
function temporalSection(text: string): string | null {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => /^temporal\s*:/.test(line));
  if (start < 0) return null;
  let end = start + 1;
  while (end < lines.length && !/^[^\s#]/.test(lines[end] as string)) end++;
  return lines.slice(start, end).join('\n');
}

function yamlNamesAddress(file: string): boolean {
  try {
    const text = fs.readFileSync(file, 'utf8');
    // A flow-style document ({ temporal: ... }) or an alias needs the whole file; block style does not.
    const flowDocument = /^\s*(#.*\n\s*)*\{/.test(text);
    const section = flowDocument ? null : temporalSection(text);
    if (!flowDocument && section === null) return false;
    const parseYaml = (yaml: string) =>
      load(yaml, { schema: CORE_SCHEMA }) as { temporal?: { address?: unknown } } | null;
    let raw: { temporal?: { address?: unknown } } | null;
    try {
      raw = parseYaml(section ?? text);
    } catch {
      raw = parseYaml(text);
    }
    return raw?.temporal?.address !== undefined;
  } catch {
    // The config loader reports an unreadable or invalid file with its own message.
    return false;
  }
}

export function loadCliContext(configFile: string = defaultConfigFile()): CliContext {
  let file = path.resolve(configFile);
  const configDefaulted = configFile === 'ebb.yaml' && !process.env.EBB_CONFIG && !fs.existsSync(file);
  let address = temporalAddressFlag();
  let addressSource: AddressSource = address
    ? 'flag'
    : process.env.EBB_TEMPORAL_ADDRESS
      ? 'env'
      : !configDefaulted && yamlNamesAddress(file)
        ? 'config'
        : 'default';
  if (addressSource === 'default') {
    const found = findDevEnvironment();
    if (found) {
      const { dev } = found;
      // Fill in only what the user has not set: an exported variable still wins.
      for (const [name, value] of Object.entries(dev.env))
        if (process.env[name] === undefined) process.env[name] = value;
      if (configDefaulted) file = dev.config;
      addressSource = 'dev';
      process.stderr.write(
        `ebb: using the running \`ebb dev\` (${path.relative(process.cwd(), found.file) || found.file}): ` +
          `Temporal at ${dev.temporal.address}${configDefaulted ? `, config ${path.relative(process.cwd(), file)}` : ''}\n`,
      );
      address = dev.temporal.address;
    }
  }
  const loaded = loadConfigOrThrow(file);
  const config = address ? { ...loaded, temporal: { ...loaded.temporal, address } } : loaded;
  const names = TemporalNames.of(config);
  return {
    configFile: file,
    baseDir: path.dirname(file),
    config,
    names,
    taskQueue: names.taskQueue,
    addressSource,
  };
}

export async function openStore(ctx: CliContext): Promise<StateStore> {
  // `require`, not `import()`, for a module of ours: see cli/main.ts.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { openStateStore } = require('../state/state-store') as typeof import('../state/state-store');
  const store = await openStateStore(
    ctx.config.state.url ? { url: ctx.config.state.url } : { path: path.resolve(ctx.baseDir, ctx.config.state.path) },
  );
  try {
    await checkDeployment(store, ctx.names.deployment, stateStoreName(ctx.config.state, ctx.baseDir));
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

export async function connectClient(ctx: CliContext): Promise<{ client: Client; close: () => Promise<void> }> {
  const { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } = await import('@temporalio/client');
  let connection;
  try {
    connection = await Connection.connect({
      ...temporalConnectionOptions(ctx.config.temporal, ctx.baseDir),
      connectTimeout: TEMPORAL_CONNECT_TIMEOUT_MS,
      // The SDK retries an unanswered call for about 20 s before failing it; a person at a terminal
      // is told within a second instead, and commands that wait (run --wait) retry on their own.
      interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 4 }))],
    });
  } catch (err) {
    throw new TemporalUnreachableError(
      ctx.config.temporal.address,
      ctx.addressSource,
      TEMPORAL_CONNECT_TIMEOUT_MS,
      err,
    );
  }
  return {
    client: new Client({ connection, namespace: ctx.config.temporal.namespace }),
    close: () => connection.close(),
  };
}

export async function connectNative(ctx: CliContext): Promise<NativeConnection> {
  const { NativeConnection } = await import('@temporalio/worker');
  try {
    return await NativeConnection.connect(temporalConnectionOptions(ctx.config.temporal, ctx.baseDir));
  } catch (err) {
    throw new TemporalUnreachableError(ctx.config.temporal.address, ctx.addressSource, null, err);
  }
}
