/**
 * Checks a config against the warehouse itself: each model's SQL and each sync's filter must run,
 * and the columns a config names (primary key, cursor, mappings, template variables) must be ones
 * the model selects. Only `describe` is used, so no row is read.
 *
 * A source that cannot be reached (a DuckDB file not built yet, a warehouse down) is not a config
 * problem: `ebb validate` notes it and checks the rest, a run fails or retries with the source's
 * own error (`unreachable: 'throw'`).
 */
import type { ConfigProblem } from '../config/config-problem';
import { checkConfigAgainstColumns } from '../config/load-config';
import type { EbbConfig } from '../config/schema';
import { buildModelQuery } from '../connectors/sources/model-query';
import { openSource } from '../connectors/sources/registry';
import { messageOf } from '../connectors/sources/source';

export interface UnreachableSource {
  source: string;
  reason: string;
}

export interface WarehouseCheck {
  problems: ConfigProblem[];
  unreachable: UnreachableSource[];
  /** The columns each checked model selects, in order (a plan hashes them for the warehouse-side diff). */
  columnsByModel: Record<string, string[]>;
}

export async function checkConfigAgainstWarehouse(
  config: EbbConfig,
  baseDir: string,
  options: { syncId?: string; unreachable?: 'skip' | 'throw' } = {},
): Promise<WarehouseCheck> {
  const syncs = Object.entries(config.syncs).filter(([id]) => options.syncId === undefined || id === options.syncId);
  const modelNames = new Set(syncs.map(([, sync]) => sync.model));
  if (options.syncId === undefined) for (const name of Object.keys(config.models)) modelNames.add(name);

  const problems: ConfigProblem[] = [];
  const unreachable = new Map<string, string>();
  const columnsByModel: Record<string, string[]> = {};
  for (const name of modelNames) {
    const model = config.models[name];
    const sourceConfig = model ? config.sources[model.source] : undefined;
    if (!model || !sourceConfig || unreachable.has(model.source)) continue;
    const source = openSource(sourceConfig, { name: model.source, baseDir });
    try {
      try {
        await source.connect();
      } catch (err) {
        if (options.unreachable === 'throw') throw err;
        unreachable.set(model.source, messageOf(err));
        continue;
      }
      try {
        columnsByModel[name] = (await source.describe(model.sql)).map((c) => c.name);
      } catch (err) {
        if (err instanceof Error && err.name === 'TransientSourceError' && options.unreachable === 'throw') throw err;
        problems.push({ path: `models.${name}.sql`, message: `the model's SQL does not run: ${messageOf(err)}` });
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
            message: `the filter does not run on model '${name}': ${messageOf(err)}`,
          });
        }
      }
    } finally {
      await source.close();
    }
  }
  const inScope = (p: ConfigProblem) =>
    options.syncId === undefined || p.path.startsWith(`syncs.${options.syncId}.`) || p.path.startsWith('models.');
  return {
    problems: [...problems, ...checkConfigAgainstColumns(config, columnsByModel).filter(inScope)],
    unreachable: [...unreachable].map(([source, reason]) => ({ source, reason })),
    columnsByModel,
  };
}
