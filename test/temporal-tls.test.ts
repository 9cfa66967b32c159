/**
 * ebb against a Temporal frontend that speaks mTLS with a private CA, configured only through
 * ebb.yaml's `temporal.tls`: the worker's NativeConnection and the CLI's client both connect through
 * it and a sync runs end to end; a missing client certificate or the wrong CA fails naming what to
 * set. The dev server serves no TLS, so a TLS terminator (test/harness/tls-terminator.ts) stands in
 * front of it with a server certificate for a name that is not the address's host.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NativeConnection } from '@temporalio/worker';
import { connectClient, connectNative, loadCliContext, openStore } from '../cli/cli-context';
import { TemporalUnreachableError } from '../cli/temporal-connection';
import { startWorkers, type RunningWorkers } from '../workers/start-workers';
import type { StateStore } from '../state/state-store';
import { ebb } from './harness/ebb-cli';
import { startEngine, type EngineHarness } from './harness/engine';
import { createPrivateCa } from './harness/private-ca';
import { salesforceSyncYaml } from './harness/sync-yaml';
import { temporalAddress } from './harness/temporal';
import { startTlsTerminator, type TlsTerminator } from './harness/tls-terminator';

const SERVER_NAME = 'temporal.ebb.test';

let engine: EngineHarness;
let terminator: TlsTerminator;
let sync: string;
/** The sandboxes' variables for `${VAR}`, without the harness's Temporal address and task queue. */
let configEnv: Record<string, string>;
const savedEnv: Record<string, string | undefined> = {};

/** Writes `<name>.yaml` beside the engine's ebb.yaml: the same config with this `temporal:` block. */
function configWithTls(name: string, tls: string): string {
  const base = fs.readFileSync(engine.configFile, 'utf8');
  const file = path.join(engine.dir, `${name}.yaml`);
  fs.writeFileSync(
    file,
    `${base}
temporal:
  address: ${terminator.address}
  taskQueue: ebb-tls-${engine.suffix}
  tls:
${tls}
`,
  );
  return file;
}

const FULL_TLS = `    serverName: ${SERVER_NAME}
    serverRootCaCertPath: ./certs/ca.pem
    clientCertPath: ./certs/ebb-worker.pem
    clientKeyPath: ./certs/ebb-worker.key`;

beforeAll(async () => {
  engine = await startEngine({
    workers: false,
    generated: 6,
    syncsYaml: ({ suffix }) => salesforceSyncYaml(`sf-${suffix}`),
  });
  sync = `sf-${engine.suffix}`;
  const certs = path.join(engine.dir, 'certs');
  const ca = createPrivateCa(certs, 'ebb test CA');
  const otherCa = createPrivateCa(certs, 'another CA');
  const server = ca.issue(SERVER_NAME, 'server');
  const client = ca.issue('ebb-worker', 'client');
  // The names ebb.yaml uses, relative to it.
  fs.copyFileSync(ca.certPath, path.join(certs, 'ca.pem'));
  fs.copyFileSync(otherCa.certPath, path.join(certs, 'other-ca.pem'));
  fs.copyFileSync(client.certPath, path.join(certs, 'ebb-worker.pem'));
  fs.copyFileSync(client.keyPath, path.join(certs, 'ebb-worker.key'));
  terminator = await startTlsTerminator({
    upstream: temporalAddress(),
    certPath: server.certPath,
    keyPath: server.keyPath,
    clientCaPath: ca.certPath,
  });
  configEnv = Object.fromEntries(
    Object.entries(engine.env).filter(([name]) => name !== 'EBB_TEMPORAL_ADDRESS' && name !== 'EBB_TASK_QUEUE'),
  );
  // loadCliContext reads ${VAR}s from the process's environment, as the CLI does.
  for (const [name, value] of Object.entries(configEnv)) {
    savedEnv[name] = process.env[name];
    process.env[name] = value;
  }
});

afterAll(async () => {
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await terminator?.close();
  await engine?.stop();
});

test('a worker and the CLI connect through mTLS with a private CA from ebb.yaml, and a sync runs end to end', async () => {
  const ctx = loadCliContext(configWithTls('mtls', FULL_TLS));
  expect(ctx.addressSource).toBe('config');
  let store: StateStore | null = null;
  let native: NativeConnection | null = null;
  let workers: RunningWorkers | null = null;
  const { client, close } = await connectClient(ctx);
  try {
    // What `ebb worker` does: the same settings for the client and the workers' native connection.
    store = await openStore(ctx);
    native = await connectNative(ctx);
    const bundle = process.env.EBB_TEST_WORKFLOW_BUNDLE;
    workers = await startWorkers({
      config: ctx.config,
      baseDir: ctx.baseDir,
      store,
      connection: native,
      client,
      namespace: ctx.config.temporal.namespace,
      taskQueue: ctx.taskQueue,
      ...(bundle ? { workflowBundle: { codePath: bundle } } : {}),
    });

    const run = await ebb(['--config', ctx.configFile, 'run', sync, '--wait'], {
      env: { ...configEnv, EBB_TEMPORAL_ADDRESS: undefined, EBB_TASK_QUEUE: undefined },
      timeoutMs: 90_000,
    });
    expect(run.stderr).not.toContain('cannot reach');
    expect(run.stdout).toMatch(/^run 1 \(incremental\) succeeded: 10 records changed \(10 added/m);
    expect(run.code).toBe(0);
    expect(engine.sf.records('Account')).toHaveLength(10);
    // Every connection came through the terminator, each with ebb's client certificate.
    expect(terminator.acceptedClients.length).toBeGreaterThanOrEqual(3);
    expect(new Set(terminator.acceptedClients)).toEqual(new Set(['ebb-worker']));
  } finally {
    await workers?.shutdown();
    await native?.close();
    await close();
    await store?.close();
  }
});

test('without a client certificate `ebb worker` stops at once, told to set temporal.tls.clientCertPath', async () => {
  const file = configWithTls(
    'no-client-cert',
    `    serverName: ${SERVER_NAME}\n    serverRootCaCertPath: ./certs/ca.pem`,
  );
  const worker = await ebb(['--config', file, 'worker'], {
    env: { ...configEnv, EBB_TEMPORAL_ADDRESS: undefined, EBB_TASK_QUEUE: undefined },
    timeoutMs: 60_000,
  });
  expect(worker.code).toBe(1);
  expect(worker.stderr).toContain(`TemporalUnreachableError: cannot reach Temporal at ${terminator.address}`);
  expect(worker.stderr).toContain(
    'the server requires a client certificate (mTLS): set temporal.tls.clientCertPath and clientKeyPath',
  );
});

test('with the wrong CA neither connection trusts the server, and both name the address and the CA setting', async () => {
  const ctx = loadCliContext(configWithTls('wrong-ca', FULL_TLS.replace('./certs/ca.pem', './certs/other-ca.pem')));
  const nativeError = await connectNative(ctx).then(
    (connection) => connection.close().then(() => null),
    (err: unknown) => err as Error,
  );
  expect(nativeError).toBeInstanceOf(TemporalUnreachableError);
  expect(nativeError?.message).toContain(`cannot reach Temporal at ${terminator.address}`);
  expect(nativeError?.message).toContain(
    "the server's certificate is not signed by a CA ebb trusts: set temporal.tls.serverRootCaCertPath",
  );
  // The client (grpc-js) only learns that it could not connect in time: ebb names the TLS settings in force.
  const clientError = await connectClient(ctx).then(
    ({ close }) => close().then(() => null),
    (err: unknown) => err as Error,
  );
  expect(clientError?.message).toContain(`cannot reach Temporal at ${terminator.address}`);
  expect(clientError?.message).toContain(
    `TLS is on (server name ${SERVER_NAME} from temporal.tls.serverName, CA ${path.join(engine.dir, 'certs', 'other-ca.pem')} from temporal.tls.serverRootCaCertPath`,
  );
});

test("without serverName the server's certificate does not match the address, and the message names the setting", async () => {
  const ctx = loadCliContext(configWithTls('no-server-name', FULL_TLS.replace(`    serverName: ${SERVER_NAME}\n`, '')));
  const refused = await connectNative(ctx).then(
    (connection) => connection.close().then(() => null),
    (err: unknown) => err as Error,
  );
  expect(refused?.message).toContain(
    `the server's certificate is not for 127.0.0.1 (it is for ${SERVER_NAME}): set temporal.tls.serverName`,
  );
});
