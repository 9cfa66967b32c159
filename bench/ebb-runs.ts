/** Driving ebb the way a user does (a run requested from the controller workflow), and its dry-run plan. */
import { controllerStatus, requestRun } from '../cli/sync-control';
import { DestinationPool, type EngineContext } from '../activities/engine-context';
import { planRun, type PlanResult } from '../activities/plan-run';
import type { RunInput, RunKind, RunSummary } from '../workflows/definitions';
import type { BenchEnvironment } from './bench-environment';

export class BenchRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

// cli/sync-control's waitForRequest polls every 500 ms, too coarse for runs that take a second or two.
const POLL_MS = 50;

/** Requests a run of the sync and resolves with its summary once the controller has finished it. */
export async function runEbb(
  env: BenchEnvironment,
  syncId: string,
  kind: RunKind = 'incremental',
): Promise<RunSummary> {
  const { requestSeq } = await requestRun(env.client, syncId, env.taskQueue, { kind });
  for (;;) {
    const status = await controllerStatus(env.client, syncId);
    if (!status) throw new BenchRunError(`the controller of ${syncId} stopped before finishing the run`);
    if (status.completedThroughSeq >= requestSeq) {
      const run = status.lastRun;
      if (!run || run.status !== 'succeeded' || run.failed > 0)
        throw new BenchRunError(
          `ebb's run of ${syncId} did not deliver every record: ${run ? JSON.stringify(run) : 'no summary'}`,
        );
      return run;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** `ebb plan`'s dry run: reads, maps, hashes and diffs every row, batches them, stages and sends nothing. */
export async function planDryRun(env: BenchEnvironment, syncId: string): Promise<PlanResult> {
  const engine: EngineContext = {
    config: env.config,
    baseDir: env.dir,
    store: env.store,
    taskQueue: env.taskQueue,
    client: null,
  };
  const pool = new DestinationPool(engine);
  const input: RunInput = { syncId, runNumber: 0, kind: 'incremental', replayOfRun: null };
  try {
    return await planRun(engine, pool, input, { dryRun: true });
  } finally {
    await pool.closeAll();
  }
}
