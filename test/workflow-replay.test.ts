/**
 * Workflow determinism across versions: histories recorded from earlier workflow code (committed
 * under test/histories/<version>/, recorded with scripts/record-histories.ts) must replay against
 * the current code. Controllers live for months, so a change that breaks these fails CI instead of
 * the running syncs; `patched()` is how a change keeps old histories replaying.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';

const HISTORIES = path.join(__dirname, 'histories');

interface Recorded {
  workflowId: string;
  /** The fetched history as JSON.stringify wrote it. */
  history: Record<string, unknown>;
}

const files = fs
  .readdirSync(HISTORIES, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.json'))
  .sort();

test('histories are committed for every scenario of every recorded version', () => {
  expect(files.length).toBeGreaterThanOrEqual(10);
});

test.each(files)('%s replays against the current workflow code', async (file) => {
  const recorded = JSON.parse(fs.readFileSync(path.join(HISTORIES, file), 'utf8')) as Recorded[];
  // fromObject reads the JSON back into messages (the SDK's own historyFromJSON trips over the two
  // protobufjs versions installed side by side).
  const histories = recorded.map((r) => ({
    workflowId: r.workflowId,
    history: temporal.api.history.v1.History.fromObject(r.history),
  }));
  const bundle = process.env.EBB_TEST_WORKFLOW_BUNDLE;
  const results = [];
  for await (const result of Worker.runReplayHistories(
    bundle ? { workflowBundle: { codePath: bundle } } : { workflowsPath: require.resolve('../workflows') },
    histories,
  )) {
    results.push({ id: result.workflowId, error: result.error?.message });
  }
  expect(results).toEqual(recorded.map((r) => ({ id: r.workflowId, error: undefined })));
});
