/**
 * Which task queues one worker process serves, so a deployment can run, say, one process for the
 * engine and Salesforce and another for Salesforce and Slack:
 *
 *   ebb worker --queues engine,salesforce
 *   ebb worker --queues salesforce,slack
 *
 * `engine` is the engine's queue (controllers, runs, plan/finish/notify); every other name is a
 * destination of ebb.yaml, whose deliveries have a queue of their own. Without `--queues` a process
 * serves them all.
 */
import { knownNamesHint } from '../config/closest-name';
import type { EbbConfig } from '../config/schema';

export const ENGINE_QUEUE_NAME = 'engine';

export interface QueueSelection {
  /** Serve the engine queue (workflows and the plan/finish/notify activities). */
  engine: boolean;
  /** Destinations whose delivery queues to serve; `all` for every destination a sync uses. */
  destinations: 'all' | readonly string[];
}

export const ALL_QUEUES: QueueSelection = { engine: true, destinations: 'all' };

/** `--queues` named something that is neither `engine` nor a destination of the config. */
export class UnknownQueueError extends Error {
  constructor(
    readonly queue: string,
    hint: string,
  ) {
    super(`unknown queue '${queue}' in --queues: ${hint}`);
    this.name = 'UnknownQueueError';
  }
}

/** The selection named by a `--queues` list; throws for a name that is no queue, with the closest one. */
export function selectQueues(config: EbbConfig, names: readonly string[]): QueueSelection {
  const destinationNames = Object.keys(config.destinations);
  if (destinationNames.includes(ENGINE_QUEUE_NAME)) {
    throw new UnknownQueueError(
      ENGINE_QUEUE_NAME,
      `a destination is named '${ENGINE_QUEUE_NAME}', the name --queues keeps for the engine queue; rename the destination`,
    );
  }
  const destinations: string[] = [];
  let engine = false;
  for (const name of names) {
    if (name === ENGINE_QUEUE_NAME) engine = true;
    else if (destinationNames.includes(name)) {
      if (!destinations.includes(name)) destinations.push(name);
    } else throw new UnknownQueueError(name, knownNamesHint('queues', name, [ENGINE_QUEUE_NAME, ...destinationNames]));
  }
  return { engine, destinations };
}

/** Selected destinations that no sync uses: they have no deliveries, so no worker is started for them. */
export function unusedDestinations(config: EbbConfig, selection: QueueSelection): string[] {
  if (selection.destinations === 'all') return [];
  const used = new Set(Object.values(config.syncs).map((sync) => sync.destination));
  return selection.destinations.filter((name) => !used.has(name));
}
