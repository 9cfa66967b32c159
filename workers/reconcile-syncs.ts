/**
 * Makes Temporal show the config as it is, when a worker for the engine queue starts: every sync's
 * controller `sync/<id>` running (so a person finds it in the UI and can signal it at once, with
 * or without a schedule), its Schedule current, and the controllers and Schedules of syncs that
 * left the config closed. Safe to run from several workers at once: each step is idempotent.
 * One list call finds the running controllers, so a start with 500 syncs starts only the missing ones.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { controllerMetadata, searchAttributesRegistered } from '../activities/controller-activities';
import type { EbbConfig } from '../config/schema';
import { STARTING_CONTROLLER_MEMO } from '../workflows/definitions';
import { searchAttributeFlags } from '../workflows/search-attributes';
import type { TemporalNames } from '../workflows/temporal-names';
import { reconcileSchedules } from './schedules';

export interface ReconcileResult {
  /** Controllers this call started (the others were running already). */
  started: string[];
  /** Controllers of syncs no longer in the config, asked to close. */
  closed: string[];
  /** Schedules of configured syncs. */
  schedules: string[];
  /** Schedules deleted because their sync left the config or lost its schedule. */
  removedSchedules: string[];
  /** Why workflows will not write ebb's search attributes, with the command that fixes it; null when they will. */
  searchAttributesWarning: string | null;
}

export async function reconcileSyncs(
  client: Client,
  config: EbbConfig,
  names: TemporalNames,
): Promise<ReconcileResult> {
  const schedules = await reconcileSchedules(client, config, names);
  const running = await runningControllers(client, names);
  const started: string[] = [];
  for (const syncId of Object.keys(config.syncs)) {
    const workflowId = names.controller(syncId);
    if (running.has(workflowId)) continue;
    try {
      await client.workflow.start('syncController', {
        workflowId,
        taskQueue: names.taskQueue,
        args: [{ syncId }],
        memo: STARTING_CONTROLLER_MEMO,
        ...controllerMetadata(config, syncId, names),
      });
      started.push(workflowId);
    } catch (err) {
      // Started by another worker since the list (which may also lag a little behind).
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  const closed = await closeControllersOfRemovedSyncs(client, config, names, running);
  const registered = await searchAttributesRegistered({ client });
  return {
    started,
    closed,
    schedules: schedules.ensured,
    removedSchedules: schedules.removed,
    searchAttributesWarning: registered
      ? null
      : `namespace ${client.options.namespace} lacks ebb's search attributes, so syncs cannot be filtered by outcome in the Temporal UI; ` +
        `register them with: ${searchAttributeFlags()
          .map((flag) => {
            const [name, type] = flag.split('=');
            return `temporal operator search-attribute create --namespace ${client.options.namespace} --name ${name} --type ${type}`;
          })
          .join(' && ')} (then restart the workers)`,
  };
}

/** Workflow ids of the running controllers on this deployment's task queue. */
async function runningControllers(client: Client, names: TemporalNames): Promise<Set<string>> {
  const ids = new Set<string>();
  const query = `WorkflowType = 'syncController' AND ExecutionStatus = 'Running' AND TaskQueue = '${names.taskQueue}'`;
  for await (const execution of client.workflow.list({ query })) ids.add(execution.workflowId);
  return ids;
}

/** Running controllers on this task queue whose sync is not in the config: cancelled, which closes them. */
async function closeControllersOfRemovedSyncs(
  client: Client,
  config: EbbConfig,
  names: TemporalNames,
  running: Set<string>,
): Promise<string[]> {
  const closed: string[] = [];
  for (const workflowId of running) {
    const syncId = names.syncOfController(workflowId);
    if (syncId !== null && config.syncs[syncId]) continue;
    try {
      await client.workflow.getHandle(workflowId).cancel();
      closed.push(workflowId);
    } catch (err) {
      // Another worker closed it first.
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  return closed;
}
