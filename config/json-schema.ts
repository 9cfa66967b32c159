/**
 * JSON Schema of ebb.yaml for editors (yaml-language-server completes and checks keys as you type).
 * Generated from the zod schemas and each connector's schemas; `config/ebb.schema.json` is its
 * committed output, and a test fails when they differ. Regenerate: `npx tsx config/json-schema.ts`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { destinationConnectors } from '../connectors/destinations/registry';
import { sourceConnectors } from '../connectors/sources/registry';
import { baseSyncSchema, ebbConfigSchema, nameSchema } from './schema';
import { syncModesByDestinationType } from './sync-modes';

export const JSON_SCHEMA_FILE = path.join(__dirname, 'ebb.schema.json');

// Which connector a sync uses depends on the destination it names, which a JSON Schema cannot
// follow; so a sync may hold any connector's options, and `ebb validate` checks the exact set.
function syncSchemaForEditors(): z.ZodType {
  const optionsByKey = new Map<string, z.ZodType[]>();
  for (const connector of Object.values(destinationConnectors)) {
    const options = connector.syncOptionsSchema;
    if (!(options instanceof z.ZodObject)) continue;
    for (const [key, schema] of Object.entries(options.shape as Record<string, z.ZodType>)) {
      if (key in baseSyncSchema.shape) continue;
      optionsByKey.set(key, [...(optionsByKey.get(key) ?? []), schema]);
    }
  }
  const connectorKeys = Object.fromEntries(
    [...optionsByKey].map(([key, schemas]) => {
      const [first, second, ...rest] = schemas;
      const schema = second && first ? z.union([first, second, ...rest]) : (first as z.ZodType);
      return [key, schema.optional()];
    }),
  );
  const modes = [...new Set(Object.values(syncModesByDestinationType).flat())];
  return baseSyncSchema.extend({ ...connectorKeys, mode: z.enum(modes as [string, ...string[]]).optional() }).strict();
}

function destinationSchemaForEditors(): z.ZodType {
  const [first, second, ...rest] = Object.values(destinationConnectors).map((connector) => connector.connectionSchema);
  if (!first) return z.looseObject({ type: z.string() });
  return second ? z.union([first, second, ...rest]) : first;
}

function sourceSchemaForEditors(): z.ZodType {
  const [first, second, ...rest] = Object.values(sourceConnectors).map((connector) => connector.configSchema);
  if (!first) return z.looseObject({ type: z.string() });
  return second ? z.union([first, second, ...rest]) : first;
}

export function buildJsonSchema(): Record<string, unknown> {
  const schema = ebbConfigSchema
    .extend({
      sources: z.record(nameSchema, sourceSchemaForEditors()).optional(),
      destinations: z.record(nameSchema, destinationSchemaForEditors()).optional(),
      syncs: z.record(nameSchema, syncSchemaForEditors()).optional(),
    })
    .meta({ title: 'ebb.yaml', description: 'ebb reverse-ETL config: sources, destinations, models and syncs' });
  return z.toJSONSchema(schema, { target: 'draft-7', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

export function renderJsonSchema(): string {
  return `${JSON.stringify(buildJsonSchema(), null, 2)}\n`;
}

if (require.main === module) {
  fs.writeFileSync(JSON_SCHEMA_FILE, renderJsonSchema());
  process.stdout.write(`wrote ${path.relative(process.cwd(), JSON_SCHEMA_FILE)}\n`);
}
