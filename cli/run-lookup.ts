/** Finding the run a command is about: the one named by `--run`, or the latest one worth showing. */
import type { StateStore } from '../state/state-store';

/** `--run N` names a run the sync never had (or one whose results retention has since removed). */
export class UnknownRunError extends Error {
  constructor(
    readonly syncId: string,
    readonly runNumber: number,
    latest: number | undefined,
  ) {
    super(
      latest === undefined
        ? `${syncId} has no run ${runNumber}: it has not run yet (start one with \`ebb run ${syncId}\`)`
        : `${syncId} has no run ${runNumber}: its latest run is ${latest} (list them with \`ebb runs ${syncId}\`)`,
    );
    this.name = 'UnknownRunError';
  }
}

/** Throws UnknownRunError unless the state store holds run `runNumber` of the sync. */
export async function requireRun(store: StateStore, syncId: string, runNumber: number): Promise<void> {
  if (await store.getRun(syncId, runNumber)) return;
  throw new UnknownRunError(syncId, runNumber, (await store.latestRun(syncId))?.run_number);
}

/** How far back `ebb records` looks for a run that delivered anything. */
const RUNS_SEARCHED = 200;

/**
 * The run whose records to show: `--run` when given (it must exist), else the latest run that has
 * per-record results, with a note saying which run that is when later runs had none to show.
 */
export async function runToShow(
  store: StateStore,
  syncId: string,
  requested: number | undefined,
): Promise<{ runNumber: number | undefined; note: string | null }> {
  if (requested !== undefined) {
    await requireRun(store, syncId, requested);
    return { runNumber: requested, note: null };
  }
  const runs = await store.listRuns(syncId, RUNS_SEARCHED);
  const latest = runs[0];
  if (!latest) return { runNumber: undefined, note: null };
  const withRecords = runs.find((r) => r.succeeded + r.failed > 0);
  if (!withRecords) return { runNumber: latest.run_number, note: null };
  if (withRecords.run_number === latest.run_number) return { runNumber: latest.run_number, note: null };
  const later =
    latest.run_number - withRecords.run_number === 1
      ? `run ${latest.run_number} had no records`
      : `runs ${withRecords.run_number + 1} to ${latest.run_number} had no records`;
  return {
    runNumber: withRecords.run_number,
    note: `records of run ${withRecords.run_number}, the latest run with records (${later}; --run <n> for another)`,
  };
}
