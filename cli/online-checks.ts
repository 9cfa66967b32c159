/**
 * `ebb validate --online`: asks each sync's destination whether the config matches it, through the
 * same `check()` a run makes before it sends anything (Salesforce: credentials, object, mapped fields,
 * external id field; Slack: token, channel). A wrong config is a problem at the sync; a destination
 * that cannot be asked now (unreachable, refusing the credentials for a passing reason) is listed as
 * unchecked, so "ok" never claims a check that was not made.
 */
import type { ConfigProblem } from '../config/config-problem';
import { resolveSync } from '../config/load-config';
import type { EbbConfig } from '../config/schema';
import { ConnectionScope } from '../connectors/destinations/connection-scope';
import type { FatalDestinationError } from '../connectors/destinations/destination';

export interface UncheckedDestination {
  sync: string;
  destination: string;
  reason: string;
}

export interface DestinationCheck {
  problems: ConfigProblem[];
  unchecked: UncheckedDestination[];
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function checkDestinationsOnline(config: EbbConfig, baseDir?: string): Promise<DestinationCheck> {
  const problems: ConfigProblem[] = [];
  const unchecked: UncheckedDestination[] = [];
  // As in a worker, the syncs of one connection share its session and describe results.
  const scopes = new Map<string, ConnectionScope>();
  for (const syncId of Object.keys(config.syncs)) {
    const resolved = resolveSync(config, syncId);
    const name = resolved.destination.name;
    let scope = scopes.get(name);
    if (!scope) scopes.set(name, (scope = new ConnectionScope(name)));
    const destination = resolved.connector.create({
      connection: resolved.destination.connection,
      sync: resolved.sync,
      scope,
      ...(baseDir ? { baseDir } : {}),
    });
    try {
      await destination.check();
    } catch (error) {
      // Only a fatal answer is about the config; anything else (network, 5xx, 429) says nothing of it.
      if (error instanceof Error && error.name === 'FatalDestinationError') {
        // Mapping mistakes are placed at their column, so validate points at the line to fix.
        const located = (error as FatalDestinationError).problems;
        if (located.length > 0) {
          for (const p of located) problems.push({ path: `syncs.${syncId}.${p.path.join('.')}`, message: p.message });
        } else problems.push({ path: `syncs.${syncId}`, message: messageOf(error) });
      } else {
        unchecked.push({ sync: syncId, destination: resolved.destination.name, reason: messageOf(error) });
      }
    } finally {
      await destination.close();
    }
  }
  return { problems, unchecked };
}
