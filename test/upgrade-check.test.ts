/**
 * `ebb upgrade-check` replays a deployment's open workflows against the workflow code at hand: what
 * docs/upgrading.md has an operator run with a new release before rolling the workers.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { openWorkflowsQuery, replayOpenWorkflows } from '../cli/commands/upgrade-check';
import { TemporalNames } from '../workflows/temporal-names';
import { startEngine } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';
import { connectClient, startWorker } from './harness/temporal';

const bundle = process.env.EBB_TEST_WORKFLOW_BUNDLE;
const currentCode = bundle
  ? { workflowBundle: { codePath: bundle } }
  : { workflowsPath: require.resolve('../workflows') };

/** Visibility lags the workflows a little: wait until the listing shows `n` of them. */
async function untilListed(client: Client, names: TemporalNames, n: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await client.workflow.count(openWorkflowsQuery(names))).count < n) {
    if (Date.now() > deadline) throw new Error(`fewer than ${n} open workflows listed for ${names.controller('')}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test("a deployment's open controller replays against the current workflow code", async () => {
  const engine = await startEngine({
    deployment: `upgrade-${randomUUID().slice(0, 8)}`,
    generated: 4,
    syncsYaml: () => salesforceSyncYaml('accounts'),
  });
  try {
    expect((await engine.run('accounts')).status).toBe('succeeded');
    await untilListed(engine.client, engine.names, 1);
    expect(await replayOpenWorkflows(engine.client, engine.names, currentCode)).toEqual({ replayed: 1, failures: [] });
  } finally {
    await engine.stop();
  }
});

test('an open workflow made by other workflow code is reported with its id, its type and the nondeterminism', async () => {
  const names = new TemporalNames(`upgrade-${randomUUID().slice(0, 8)}`);
  const { client, close } = await connectClient();
  // Its own workflows instead of the bundle of ebb's that the harness would use.
  const earlier = await startWorker({
    workflowsPath: require.resolve('./fixtures/workflows/earlier-controller'),
    workflowBundle: undefined,
  });
  let stopped: Promise<void> | null = null;
  const stopEarlier = () => (stopped ??= earlier.stop());
  try {
    const handle = await client.workflow.start('syncController', {
      taskQueue: earlier.taskQueue,
      workflowId: names.controller('accounts'),
      args: [{ syncId: 'accounts' }],
    });
    // Its first workflow task has completed once the timer is in the history.
    const deadline = Date.now() + 15_000;
    while (!(await handle.fetchHistory()).events?.some((e) => e.timerStartedEventAttributes)) {
      if (Date.now() > deadline) throw new Error('the earlier controller never started its timer');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await stopEarlier();
    await untilListed(client, names, 1);
    const result = await replayOpenWorkflows(client, names, currentCode);
    expect(result).toEqual({
      replayed: 1,
      failures: [
        { workflowId: names.controller('accounts'), workflowType: 'syncController', error: expect.any(String) },
      ],
    });
    expect(result.failures[0]?.error).toMatch(/nondetermin/i);
    await handle.terminate('test over');
  } finally {
    await stopEarlier();
    await close();
  }
});
