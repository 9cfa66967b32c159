/**
 * `ebb upgrade-check [--json]`: replays the history of every open workflow of this deployment
 * (controllers, runs, schedule triggers) against the workflow code of the ebb that runs the command.
 * Run it with the new release before rolling the workers (docs/upgrading.md): a workflow that does
 * not replay would fail its next workflow task on a new worker, so the release needs a `patched()`
 * around the change that broke it. Nothing is written; histories carry ids and counts only.
 *
 *   ebb upgrade-check     # 212 open workflows replay against this ebb's workflow code
 */
import type { Client } from '@temporalio/client';
import type { TemporalNames } from '../../workflows/temporal-names';
import { connectClient, loadCliContext } from '../cli-context';
import { ExitError } from '../exit-error';
import { count, excerpt, printJson, say } from '../output';
import { quietTemporalLogs } from '../runtime-logging';

/** The slice of a fetched history read here: the type its first event started. */
interface StartedHistory {
  events?: Array<{
    workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string | null } | null } | null;
  }> | null;
}

export const EBB_WORKFLOW_TYPES = ['syncController', 'syncRun', 'scheduledSyncTrigger'] as const;

export interface ReplayFailure {
  workflowId: string;
  workflowType: string;
  /** The replay's error, e.g. "[TMPRL1100] Nondeterminism error: ...". */
  error: string;
}

export interface UpgradeCheckResult {
  replayed: number;
  failures: ReplayFailure[];
}

/** Which workflow code to replay with: the installed one, or a prebuilt bundle (tests). */
export type WorkflowCode = { workflowsPath: string } | { workflowBundle: { codePath: string } };

/** The visibility query for the deployment's open workflows: its id prefix keeps other deployments out. */
export function openWorkflowsQuery(names: TemporalNames): string {
  const types = EBB_WORKFLOW_TYPES.map((type) => `'${type}'`).join(', ');
  const prefix = names.controller('').replace(/'/g, "\\'");
  return `ExecutionStatus = 'Running' AND WorkflowType IN (${types}) AND WorkflowId STARTS_WITH '${prefix}'`;
}

/** Replays every open workflow of the deployment against `code`, a few histories fetched at a time. */
export async function replayOpenWorkflows(
  client: Client,
  names: TemporalNames,
  code: WorkflowCode,
): Promise<UpgradeCheckResult> {
  // Loaded here: the worker package (and its native module) is heavy, and only this path needs it.
  const { Worker } = await import('@temporalio/worker');
  const types = new Map<string, string>();
  const listed = client.workflow.list({ query: openWorkflowsQuery(names) });
  async function* histories() {
    for await (const { workflowId, history } of listed.intoHistories({ concurrency: 4 })) {
      const started = (history as StartedHistory).events?.[0];
      types.set(workflowId, started?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? 'unknown');
      yield { workflowId, history };
    }
  }
  const failures: ReplayFailure[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories(code, histories())) {
    replayed += 1;
    if (result.error)
      failures.push({
        workflowId: result.workflowId,
        workflowType: types.get(result.workflowId) ?? 'unknown',
        error: result.error.message.split('\n')[0] ?? '',
      });
  }
  return { replayed, failures };
}

export async function upgradeCheckCommand(options: { config?: string; json?: boolean }): Promise<void> {
  quietTemporalLogs();
  const ctx = loadCliContext(options.config);
  const { client, close } = await connectClient(ctx);
  let result: UpgradeCheckResult;
  try {
    result = await replayOpenWorkflows(client, ctx.names, { workflowsPath: require.resolve('../../workflows') });
  } finally {
    await close();
  }
  const deployment = ctx.names.deployment ? ` of deployment ${ctx.names.deployment}` : '';
  if (options.json) printJson(result);
  else if (result.failures.length === 0)
    say(
      `${count(result.replayed, 'open workflow')}${deployment} ${result.replayed === 1 ? 'replays' : 'replay'} ` +
        "against this ebb's workflow code",
    );
  else {
    say(
      `${count(result.failures.length, 'open workflow')} of ${result.replayed}${deployment} do not replay ` +
        "against this ebb's workflow code:",
    );
    for (const f of result.failures) say(`  ${f.workflowId} (${f.workflowType}): ${excerpt(f.error, 300)}`);
  }
  if (result.failures.length > 0)
    throw new ExitError(
      1,
      options.json
        ? ''
        : 'do not roll the workers onto this release: wrap the change in patched() (docs/upgrading.md), ' +
            'or wait until these workflows have closed or continued as new',
    );
}
