import fs from 'node:fs';
import { JSON_SCHEMA_FILE, buildJsonSchema, renderJsonSchema } from '../config/json-schema';

test('the committed JSON schema matches the zod schema (regenerate: npx tsx config/json-schema.ts)', () => {
  expect(fs.readFileSync(JSON_SCHEMA_FILE, 'utf8')).toBe(renderJsonSchema());
});

test('the JSON schema describes every section and the options of every destination type', () => {
  const schema = buildJsonSchema() as {
    properties: Record<string, { additionalProperties?: { properties?: Record<string, unknown>; anyOf?: unknown[] } }>;
    additionalProperties: boolean;
  };
  expect(Object.keys(schema.properties)).toEqual([
    'deployment',
    'state',
    'temporal',
    'sources',
    'destinations',
    'models',
    'syncs',
    'observability',
  ]);
  expect(schema.additionalProperties).toBe(false);
  const syncKeys = Object.keys(schema.properties.syncs?.additionalProperties?.properties ?? {});
  expect(syncKeys).toEqual(
    expect.arrayContaining(['model', 'destination', 'schedule', 'mapping', 'externalId', 'channel', 'template']),
  );
  const destinationTypes = JSON.stringify(schema.properties.destinations?.additionalProperties?.anyOf);
  expect(destinationTypes).toContain('"const":"salesforce"');
  expect(destinationTypes).toContain('"const":"slack"');
});

test('the sample config points editors at the schema', () => {
  const sample = fs.readFileSync(`${__dirname}/../examples/ebb.yaml`, 'utf8');
  expect(sample.split('\n')[0]).toBe('# yaml-language-server: $schema=../config/ebb.schema.json');
});
