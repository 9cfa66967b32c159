/**
 * Checks a config against the warehouse itself: each model's SQL and each sync's filter must run,
 * and the columns a config names (primary key, cursor, mappings, template variables) must be ones
 * the model selects. Only `describe` is used, so no row is read. Sources that cannot be reached
 * (e.g. a DuckDB file not built yet) are skipped: their columns cannot be known.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createSource } from '../connectors/sources/create-source';
import { buildModelQuery } from '../connectors/sources/model-query';
import type { Source } from '../connectors/sources/source';
import { LineCounter, parseDocument } from 'yaml';
import type { ConfigProblem } from './config-problem';
import { checkConfigAgainstColumns } from './load-config';
import type { EbbConfig, SourceConfig } from './schema';
import { locate } from './yaml-locations';

function openSource(config: EbbConfig, baseDir: string, name: string): Source | null {
  const source: SourceConfig | undefined = config.sources[name];
  if (!source || source.type !== 'duckdb') return null;
  const file = path.resolve(baseDir, source.path);
  if (!fs.existsSync(file)) return null;
  return createSource({ ...source, path: file }, name);
}

const reason = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Adds line and column (from the YAML source) to problems found after loading, which have only a path. */
export function placeProblems(file: string, problems: ConfigProblem[]): ConfigProblem[] {
  if (problems.every((p) => p.line !== undefined)) return problems;
  const lineCounter = new LineCounter();
  const doc = parseDocument(fs.readFileSync(file, 'utf8'), { lineCounter });
  return problems.map((p) => (p.line !== undefined ? p : { ...p, ...locate(doc, lineCounter, p.path.split('.')) }));
}

export async function checkConfigAgainstWarehouse(
  config: EbbConfig,
  baseDir: string,
  options: { syncId?: string } = {},
): Promise<ConfigProblem[]> {
  const syncs = Object.entries(config.syncs).filter(([id]) => options.syncId === undefined || id === options.syncId);
  const modelNames = new Set(syncs.map(([, sync]) => sync.model));
  if (options.syncId === undefined) for (const name of Object.keys(config.models)) modelNames.add(name);

  const problems: ConfigProblem[] = [];
  const columnsByModel: Record<string, string[]> = {};
  for (const name of modelNames) {
    const model = config.models[name];
    if (!model) continue;
    const source = openSource(config, baseDir, model.source);
    if (!source) continue;
    try {
      try {
        columnsByModel[name] = (await source.describe(model.sql)).map((c) => c.name);
      } catch (err) {
        problems.push({ path: `models.${name}.sql`, message: `the model's SQL does not run: ${reason(err)}` });
        continue;
      }
      for (const [id, sync] of syncs) {
        if (sync.model !== name || !sync.filter) continue;
        try {
          await source.describe(
            buildModelQuery({ modelSql: model.sql, primaryKey: model.primaryKey, filter: sync.filter }),
          );
        } catch (err) {
          problems.push({
            path: `syncs.${id}.filter`,
            message: `the filter does not run on model '${name}': ${reason(err)}`,
          });
        }
      }
    } finally {
      await source.close();
    }
  }
  const inScope = (p: ConfigProblem) =>
    options.syncId === undefined || p.path.startsWith(`syncs.${options.syncId}.`) || p.path.startsWith('models.');
  return [...problems, ...checkConfigAgainstColumns(config, columnsByModel).filter(inScope)];
}
