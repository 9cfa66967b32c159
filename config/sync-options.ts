/**
 * The connector-specific half of each sync: validated with the `syncOptionsSchema` and `staticCheck`
 * of the connector its destination names.
 */
import { z } from 'zod';
import { closestName } from './closest-name';
import type { UnplacedProblem } from './config-problem';
import type { DestinationConnector } from '../connectors/destinations/destination';
import { destinationConnectors } from '../connectors/destinations/registry';
import { entriesOf, type RawRecord } from './raw-config';
import { BASE_SYNC_KEYS } from './schema';
import { syncModesByDestinationType } from './sync-modes';
import { problemsFromZodIssues } from './zod-problems';

/** The connector of the destination a sync names, when both exist. */
export function connectorForSync(config: unknown, sync: RawRecord): DestinationConnector<unknown, unknown> | undefined {
  if (typeof sync.destination !== 'string') return undefined;
  const destination = new Map(entriesOf(config, 'destinations')).get(sync.destination);
  return typeof destination?.type === 'string' ? destinationConnectors[destination.type] : undefined;
}

// Connector schemas tolerate the base keys, so a misspelt option would otherwise pass silently.
function unknownKeys(
  connector: DestinationConnector<unknown, unknown>,
  sync: RawRecord,
  id: string,
): UnplacedProblem[] {
  const schema = connector.syncOptionsSchema;
  if (!(schema instanceof z.ZodObject)) return [];
  const known = [...BASE_SYNC_KEYS, ...Object.keys(schema.shape)];
  return Object.keys(sync)
    .filter((key) => !known.includes(key))
    .map((key) => {
      const closest = closestName(key, known);
      return {
        path: ['syncs', id, key],
        message: `unknown key '${key}' for a ${connector.type} sync`,
        hint: closest ? `did you mean '${closest}'?` : `keys of a ${connector.type} sync: ${known.join(', ')}`,
      };
    });
}

function unsupportedMode(type: string, sync: RawRecord, id: string): UnplacedProblem[] {
  const modes = syncModesByDestinationType[type];
  if (!modes || sync.mode === undefined || modes.includes(String(sync.mode))) return [];
  const closest = closestName(String(sync.mode), modes);
  return [
    {
      path: ['syncs', id, 'mode'],
      message: `a ${type} sync has no mode '${String(sync.mode)}'`,
      hint: `${closest ? `did you mean '${closest}'? ` : ''}modes: ${modes.join(', ')}`,
    },
  ];
}

export function checkSyncOptions(config: unknown): UnplacedProblem[] {
  return entriesOf(config, 'syncs').flatMap(([id, sync]) => {
    const connector = connectorForSync(config, sync);
    if (!connector) return [];
    const problems = [...unsupportedMode(connector.type, sync, id), ...unknownKeys(connector, sync, id)];
    const parsed = connector.syncOptionsSchema.safeParse(sync);
    if (!parsed.success) return [...problems, ...problemsFromZodIssues(parsed.error.issues, sync, ['syncs', id])];
    const found = connector.staticCheck?.({ sync: parsed.data, modelColumns: null }) ?? [];
    return [...problems, ...found.map((problem) => ({ ...problem, path: ['syncs', id, ...problem.path] }))];
  });
}
