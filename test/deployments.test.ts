/**
 * Two ebb deployments (staging and prod, or two teams) on one Temporal namespace, each with its own
 * ebb.yaml and state store, and the same sync ids: neither starts, serves or records the other's
 * runs. And `ebb status` / `ebb run` with no worker polling: they answer at once and say so.
 */
import { randomUUID } from 'node:crypto';
import { ebb } from './harness/ebb-cli';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';
import { startWorkers } from '../workers/start-workers';
import { reconcileSyncs } from '../workers/reconcile-syncs';
import { NativeConnection } from '@temporalio/worker';
import { temporalAddress } from './harness/temporal';

const SYNC = 'accounts';
const id = randomUUID().slice(0, 6);
let blue: EngineHarness;
let green: EngineHarness;

beforeAll(async () => {
  [blue, green] = await Promise.all([
    startEngine({ deployment: `blue-${id}`, syncsYaml: () => salesforceSyncYaml(SYNC) }),
    startEngine({ deployment: `green-${id}`, syncsYaml: () => salesforceSyncYaml(SYNC) }),
  ]);
});

afterAll(async () => {
  await Promise.all([blue?.stop(), green?.stop()]);
});

const cli = (e: EngineHarness, args: string[]) =>
  ebb(['--config', e.configFile, ...args], { env: e.env, timeoutMs: 60_000 });

test('two deployments with the same sync ids run side by side on one namespace, each in its own store', async () => {
  expect(blue.names.taskQueue).toBe(`ebb-blue-${id}`);
  const [b, g] = await Promise.all([blue.run(SYNC), green.run(SYNC)]);
  const g2 = await green.run(SYNC, { kind: 'full' });
  expect([b.runNumber, g.runNumber, g2.runNumber]).toEqual([1, 1, 2]);

  // Each store holds its own deployment's runs only, and each destination got its own records.
  expect((await blue.store.listRuns(SYNC)).map((r) => r.run_number)).toEqual([1]);
  expect((await green.store.listRuns(SYNC)).map((r) => r.run_number)).toEqual([2, 1]);
  expect(blue.sf.records('Account').length).toBe(b.succeeded);
  expect(green.sf.records('Account').length).toBe(g.succeeded);

  // In Temporal the ids carry the deployment: sync ids alone no longer collide.
  const ids = async (e: EngineHarness) => {
    const out: string[] = [];
    for await (const w of e.client.workflow.list({ query: `TaskQueue = '${e.names.taskQueue}'` }))
      out.push(w.workflowId);
    return out.sort();
  };
  expect(await ids(blue)).toEqual([`blue-${id}/sync/${SYNC}`, `blue-${id}/sync/${SYNC}/run/1`]);
  expect(await ids(green)).toEqual([
    `green-${id}/sync/${SYNC}`,
    `green-${id}/sync/${SYNC}/run/1`,
    `green-${id}/sync/${SYNC}/run/2`,
  ]);

  // Each CLI reports its own deployment's runs.
  const status = async (e: EngineHarness) =>
    (
      JSON.parse((await cli(e, ['status', '--json'])).stdout) as Array<{ status: { lastRun: { runNumber: number } } }>
    )[0]?.status.lastRun.runNumber;
  expect(await status(blue)).toBe(1);
  expect(await status(green)).toBe(2);
});

test('a worker refuses a state store of another deployment, and the CLI refuses to read it', async () => {
  const native = await NativeConnection.connect({ address: temporalAddress() });
  try {
    await expect(
      startWorkers({
        config: green.config,
        baseDir: green.dir,
        store: blue.store,
        connection: native,
        client: green.client,
        taskQueue: green.names.taskQueue,
      }),
    ).rejects.toThrow(
      `belongs to deployment 'blue-${id}', but this ebb.yaml is deployment 'green-${id}': point state.url/state.path`,
    );
  } finally {
    await native.close();
  }
  const misdirected = await ebb(['--config', green.configFile, 'runs', SYNC], {
    env: { ...green.env, EBB_STATE_PATH: `${blue.dir}/state.sqlite` },
  });
  expect(misdirected.code).not.toBe(0);
  expect(misdirected.stderr).toContain(
    `the state store at ${blue.dir}/state.sqlite belongs to deployment 'blue-${id}', but this ebb.yaml is deployment 'green-${id}'`,
  );
});

test('with no worker polling, ebb run queues the request and says so, and ebb status answers and says so', async () => {
  const e = await startEngine({
    workers: false,
    deployment: `idle-${id}`,
    syncsYaml: () => salesforceSyncYaml(SYNC),
  });
  try {
    const requested = await cli(e, ['run', SYNC]);
    expect(requested.code).toBe(0);
    expect(requested.stdout).toContain(
      `requested an incremental run of ${SYNC}; no worker polls task queue ebb-idle-${id}: start one with \`ebb worker\` for this config: the run starts once one polls`,
    );

    const status = await cli(e, ['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^${SYNC}\\s+idle\\s`, 'm'));
    expect(status.stdout).toContain(`no worker polls task queue ebb-idle-${id}`);
    const json = await cli(e, ['status', SYNC, '--json']);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ syncId: SYNC, controller: 'running', workersPolling: 0, lastStoredRun: null }),
    ]);
    expect(json.stderr).toContain('no worker polls task queue');

    // The queued request is served once a worker starts.
    await e.startWorkers();
    await reconcileSyncs(e.client, e.config, e.names);
    const deadline = Date.now() + 60_000;
    while (!(await e.store.latestRun(SYNC))?.finished_at && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 500));
    expect(await e.store.latestRun(SYNC)).toMatchObject({ run_number: 1, status: 'succeeded' });
  } finally {
    await e.stop();
  }
});
