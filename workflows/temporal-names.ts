/**
 * The names one ebb deployment uses in Temporal: workflow ids, schedule ids and task queues. Two
 * deployments on one namespace (staging and prod, or two teams) differ in all of them, so neither
 * starts, signals, lists or serves the other's workflows:
 *
 *   deployment   controller           run                    schedule                  task queue
 *   (none)       sync/<id>            sync/<id>/run/<n>      sync/<id>/schedule        ebb
 *   prod         prod/sync/<id>       prod/sync/<id>/run/<n> prod/sync/<id>/schedule   ebb-prod
 *
 * A config without `deployment` keeps the names ebb always used, so running syncs are not renamed.
 * Pure: the workflows derive a run's id from their controller's own id and need nothing else here.
 */

export const DEFAULT_TASK_QUEUE = 'ebb';

export class TemporalNames {
  /** The engine's task queue (controllers, runs, plan/finish/notify). */
  readonly taskQueue: string;
  private readonly prefix: string;

  constructor(
    readonly deployment: string | null,
    taskQueue?: string,
  ) {
    this.prefix = deployment ? `${deployment}/` : '';
    this.taskQueue = taskQueue ?? (deployment ? `${DEFAULT_TASK_QUEUE}-${deployment}` : DEFAULT_TASK_QUEUE);
  }

  /** The names of the deployment a config describes (`deployment`, `temporal.taskQueue` / EBB_TASK_QUEUE). */
  static of(config: { deployment?: string; temporal: { taskQueue?: string } }): TemporalNames {
    return new TemporalNames(config.deployment ?? null, config.temporal.taskQueue);
  }

  controller(syncId: string): string {
    return `${this.prefix}sync/${syncId}`;
  }

  run(syncId: string, runNumber: number): string {
    return `${this.controller(syncId)}/run/${runNumber}`;
  }

  schedule(syncId: string): string {
    return `${this.controller(syncId)}/schedule`;
  }

  /** The short workflow a sync's Schedule starts to signal its controller. */
  scheduledTrigger(syncId: string): string {
    return `${this.controller(syncId)}/scheduled`;
  }

  /** The sync whose controller has this workflow id in this deployment; null for any other id. */
  syncOfController(workflowId: string): string | null {
    const match = /^sync\/([^/]+)$/.exec(
      workflowId.startsWith(this.prefix) ? workflowId.slice(this.prefix.length) : '',
    );
    return match?.[1] ?? null;
  }

  /** The sync and run number of a run's workflow id in this deployment; null for any other id. */
  runOf(workflowId: string): { syncId: string; runNumber: number } | null {
    const match = /^sync\/([^/]+)\/run\/(\d+)$/.exec(
      workflowId.startsWith(this.prefix) ? workflowId.slice(this.prefix.length) : '',
    );
    return match?.[1] && match[2] ? { syncId: match[1], runNumber: Number(match[2]) } : null;
  }

  /** The sync whose Schedule has this id in this deployment; null for any other id. */
  syncOfSchedule(scheduleId: string): string | null {
    const match = /^sync\/([^/]+)\/schedule$/.exec(
      scheduleId.startsWith(this.prefix) ? scheduleId.slice(this.prefix.length) : '',
    );
    return match?.[1] ?? null;
  }
}
