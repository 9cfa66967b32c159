/**
 * ebb.yaml is read by js-yaml when it is valid and by `yaml` (which keeps positions) when it has a
 * problem (config/load-config.ts). A config must mean the same either way: these documents, the
 * shipped example and scalars whose meaning differs between YAML 1.1 and 1.2, read to the same data.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CORE_SCHEMA, load } from 'js-yaml';
import { parse } from 'yaml';
import { parseConfig } from '../config/load-config';

const readBoth = (text: string) => ({
  quick: load(text, { schema: CORE_SCHEMA }) as unknown,
  placed: parse(text, { uniqueKeys: false }) as unknown,
});

test('the example config reads to the same data with both YAML readers', () => {
  const text = fs.readFileSync(path.join(__dirname, '..', 'examples', 'ebb.yaml'), 'utf8');
  const { quick, placed } = readBoth(text);
  expect(quick).toEqual(placed);
});

test.each([
  ['yes and on stay strings', 'a: yes\nb: on\nc: off'],
  ['dates stay strings', 'a: 2024-01-01\nb: 12:30'],
  ['octal and hex are YAML 1.2 numbers', 'a: 0o17\nb: 0x1f\nc: 017'],
  ['null, booleans and floats', 'a: ~\nb: Null\nc: TRUE\nd: 1e3\ne: -.inf'],
  ['an anchor reused by an alias', 'base: &b { every: 1m }\none: *b\ntwo: { <<: *b }'],
  ['quoted escapes and block scalars', 'a: "caf\\u00e9"\nb: |\n  line one\n  line two\n'],
])('%s', (_name, text) => {
  const { quick, placed } = readBoth(text);
  expect(quick).toEqual(placed);
});

test('a duplicate key, which js-yaml refuses, is still reported at its line', () => {
  const text = fs
    .readFileSync(path.join(__dirname, '..', 'examples', 'ebb.yaml'), 'utf8')
    .replace(/^state:/m, 'state: { path: ./a.sqlite }\nstate:');
  const { config, problems } = parseConfig(text, { env: { SF_LOGIN_URL: 'http://x', SLACK_BOT_TOKEN: 'xoxb-1' } });
  expect(config).toBeUndefined();
  expect(problems).toContainEqual(
    expect.objectContaining({ path: 'state', message: expect.stringContaining("duplicate key 'state'") }),
  );
});
