/**
 * A state store belongs to one deployment (ebb.yaml's `deployment`, or none). The first worker to
 * start on a store records its deployment there; a worker or CLI of another deployment is refused,
 * because its runs would be written into the wrong store (or read from it): two deployments on one
 * namespace must not share a state store, and one deployment must not be split over two.
 */
import path from 'node:path';
import type { StateStore } from './state-store';

const FACT = 'deployment';
/** How an unnamed deployment is recorded (names are never empty). */
const UNNAMED = '';

const describe = (deployment: string): string =>
  deployment === UNNAMED ? 'the unnamed deployment (no `deployment` in ebb.yaml)' : `deployment '${deployment}'`;

export class DeploymentMismatchError extends Error {
  constructor(
    readonly storeDeployment: string | null,
    readonly configDeployment: string | null,
    where: string,
  ) {
    super(
      `${where} belongs to ${describe(storeDeployment ?? UNNAMED)}, but this ebb.yaml is ${describe(configDeployment ?? UNNAMED)}: ` +
        `point state.url/state.path (or EBB_STATE_URL/EBB_STATE_PATH) at ${configDeployment ? `${configDeployment}'s` : 'its'} own state store, ` +
        `or set \`deployment: ${storeDeployment || '<name>'}\` if this config is meant to be that deployment` +
        (storeDeployment === null || configDeployment === null
          ? ' (naming a deployment renames its workflows, Schedules and task queue: stop its workers, start the named ones on a new state store)'
          : ''),
    );
    this.name = 'DeploymentMismatchError';
  }
}

/** Records the deployment on a store that has none, and refuses a store of another deployment. */
export async function claimDeployment(store: StateStore, deployment: string | null, where: string): Promise<void> {
  const recorded = await store.recordStoreFact(FACT, deployment ?? UNNAMED);
  if (recorded !== (deployment ?? UNNAMED)) throw new DeploymentMismatchError(recorded || null, deployment, where);
}

/** For readers (the CLI): refuses a store another deployment recorded; a store nobody claimed yet is fine. */
export async function checkDeployment(store: StateStore, deployment: string | null, where: string): Promise<void> {
  const recorded = await store.storeFact(FACT);
  if (recorded !== undefined && recorded !== (deployment ?? UNNAMED))
    throw new DeploymentMismatchError(recorded || null, deployment, where);
}

/** 'the state store at /x/state.sqlite' or 'the PostgreSQL state store', for messages. */
export function stateStoreName(state: { url?: string; path: string }, baseDir: string): string {
  if (state.url) return `the PostgreSQL state store ${redactUrl(state.url)}`;
  return `the state store at ${path.resolve(baseDir, state.path)}`;
}

/** A URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'state.url';
  }
}
