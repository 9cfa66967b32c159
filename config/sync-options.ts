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
import { noteKnownKeys, problemsFromZodIssues } from './zod-problems';

/** The connector of the destination a sync names, when both exist. */
function connectorIn(
  destinations: ReadonlyMap<string, RawRecord>,
  sync: RawRecord,
): DestinationConnector<unknown, unknown> | undefined {
  if (typeof sync.destination !== 'string') return undefined;
  const destination = destinations.get(sync.destination);
  return typeof destination?.type === 'string' ? destinationConnectors[destination.type] : undefined;
}

const strictSchemas = new WeakMap<DestinationConnector<unknown, unknown>, z.ZodType>();

/**
 * The connector's options and the base keys (which schema.ts checks), rejecting any other key, so
 * a misspelt key is reported like any other unknown key instead of passing silently.
 */
function strictSyncSchema(connector: DestinationConnector<unknown, unknown>): z.ZodType {
  const cached = strictSchemas.get(connector);
  if (cached) return cached;
  const options = connector.syncOptionsSchema;
  let schema: z.ZodType = options;
  if (options instanceof z.ZodObject) {
    const shape = options.shape as Record<string, unknown>;
    const baseKeys = BASE_SYNC_KEYS.filter((key) => !(key in shape)).map((key) => [key, z.unknown().optional()]);
    schema = options.safeExtend(Object.fromEntries(baseKeys) as Record<string, z.ZodOptional<z.ZodUnknown>>).strict();
  }
  strictSchemas.set(connector, schema);
  return schema;
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
  const destinations = new Map(entriesOf(config, 'destinations'));
  return entriesOf(config, 'syncs').flatMap(([id, sync]) => {
    const connector = connectorIn(destinations, sync);
    if (!connector) return [];
    const problems = unsupportedMode(connector.type, sync, id);
    const parsed = strictSyncSchema(connector).safeParse(sync, { error: noteKnownKeys });
    if (!parsed.success) return [...problems, ...problemsFromZodIssues(parsed.error.issues, sync, ['syncs', id])];
    const found = connector.staticCheck?.({ sync: parsed.data, modelColumns: null }) ?? [];
    return [...problems, ...found.map((problem) => ({ ...problem, path: ['syncs', id, ...problem.path] }))];
  });
}
