/**
 * Makes Temporal show the config as it is, when a worker for the engine queue starts: every sync's
 * controller `sync/<id>` running (so a person finds it in the UI and can signal it at once, with
 * or without a schedule), its Schedule current, and the controllers and Schedules of syncs that
 * left the config closed. Safe to run from several workers at once: each step is idempotent.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  ScheduleNotFoundError,
  type Client,
} from '@temporalio/client';
import { controllerMetadata, searchAttributesRegistered } from '../activities/controller-activities';
import type { EbbConfig } from '../config/schema';
import { controllerWorkflowId, scheduleId } from '../workflows/definitions';
import { searchAttributeFlags } from '../workflows/search-attributes';
import { ensureSchedules } from './schedules';

export interface ReconcileResult {
  /** Controllers this call started (the others were running already). */
  started: string[];
  /** Controllers of syncs no longer in the config, asked to close. */
  closed: string[];
  schedules: string[];
  removedSchedules: string[];
  /** Why workflows will not write ebb's search attributes, with the command that fixes it; null when they will. */
  searchAttributesWarning: string | null;
}

export async function reconcileSyncs(client: Client, config: EbbConfig, taskQueue: string): Promise<ReconcileResult> {
  const schedules = await ensureSchedules(client, config, taskQueue);
  const removedSchedules = await removeSchedulesOfRemovedSyncs(client, config, taskQueue);
  const started: string[] = [];
  for (const syncId of Object.keys(config.syncs)) {
    const workflowId = controllerWorkflowId(syncId);
    try {
      await client.workflow.start('syncController', {
        workflowId,
        taskQueue,
        args: [{ syncId }],
        ...controllerMetadata(config, syncId),
      });
      started.push(workflowId);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  const closed = await closeControllersOfRemovedSyncs(client, config, taskQueue);
  const registered = await searchAttributesRegistered({ client });
  return {
    started,
    closed,
    schedules,
    removedSchedules,
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

/** Running controllers on this task queue whose sync is not in the config: cancelled, which closes them. */
async function closeControllersOfRemovedSyncs(client: Client, config: EbbConfig, taskQueue: string): Promise<string[]> {
  const closed: string[] = [];
  const query = `WorkflowType = 'syncController' AND ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue}'`;
  for await (const execution of client.workflow.list({ query })) {
    const syncId = execution.workflowId.replace(/^sync\//, '');
    if (execution.workflowId === controllerWorkflowId(syncId) && config.syncs[syncId]) continue;
    try {
      await client.workflow.getHandle(execution.workflowId).cancel();
      closed.push(execution.workflowId);
    } catch (err) {
      // Another worker closed it first.
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  return closed;
}

/** Schedules that start ebb's trigger on this task queue for a sync that is no longer configured. */
async function removeSchedulesOfRemovedSyncs(client: Client, config: EbbConfig, taskQueue: string): Promise<string[]> {
  const removed: string[] = [];
  for await (const summary of client.schedule.list()) {
    const match = /^sync\/(.+)\/schedule$/.exec(summary.scheduleId);
    if (!match?.[1] || config.syncs[match[1]] || summary.scheduleId !== scheduleId(match[1])) continue;
    const handle = client.schedule.getHandle(summary.scheduleId);
    try {
      const description = await handle.describe();
      // Only ours: another ebb (another config) may share the namespace on its own task queue.
      if (description.action.type !== 'startWorkflow' || description.action.taskQueue !== taskQueue) continue;
      await handle.delete();
      removed.push(summary.scheduleId);
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
  }
  return removed;
}
