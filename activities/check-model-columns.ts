/**
 * Checks a config against the warehouse itself: each model's SQL and each sync's filter must run,
 * and the columns a config names (primary key, cursor, mappings, template variables) must be ones
 * the model selects. Only `describe` is used, so no row is read.
 *
 * A source that cannot be opened (a DuckDB file that does not exist, credentials refused) is a
 * config problem at `sources.<name>`; one that cannot be reached for now (a warehouse down) is not:
 * `ebb validate` notes it and checks the rest. A run fails or retries with the source's own error
 * (`unreachable: 'throw'`).
 */
import type { ConfigProblem } from '../config/config-problem';
import { checkConfigAgainstColumns } from '../config/load-config';
import type { EbbConfig, ModelConfig, SourceConfig, SyncConfig } from '../config/schema';
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
  // Grouped up front: one pass per model over every sync, or one open file per model, would make a
  // config of thousands of models take minutes (opening a DuckDB file costs milliseconds each time).
  const syncsByModel = new Map<string, Array<[string, SyncConfig]>>();
  for (const [id, sync] of syncs) {
    const list = syncsByModel.get(sync.model) ?? [];
    list.push([id, sync]);
    syncsByModel.set(sync.model, list);
  }
  const modelsBySource = new Map<string, string[]>();
  for (const name of modelNames) {
    const model = config.models[name];
    if (!model || !config.sources[model.source]) continue;
    const list = modelsBySource.get(model.source) ?? [];
    list.push(name);
    modelsBySource.set(model.source, list);
  }
  for (const [sourceName, models] of modelsBySource) {
    const source = openSource(config.sources[sourceName] as SourceConfig, { name: sourceName, baseDir });
    try {
      try {
        await source.connect();
      } catch (err) {
        if (options.unreachable === 'throw') throw err;
        // A SourceError on connect means the source itself is wrong (a DuckDB file that is not
        // there, bad credentials): a mistake in the config. Only a transient one is "unreachable".
        if (err instanceof Error && err.name === 'SourceError') {
          problems.push({ path: `sources.${sourceName}`, message: `the source cannot be opened: ${messageOf(err)}` });
        } else {
          unreachable.set(sourceName, messageOf(err));
        }
        continue;
      }
      for (const name of models) {
        const model = config.models[name] as ModelConfig;
        try {
          columnsByModel[name] = (await source.describe(model.sql)).map((c) => c.name);
        } catch (err) {
          if (err instanceof Error && err.name === 'TransientSourceError' && options.unreachable === 'throw') throw err;
          problems.push({ path: `models.${name}.sql`, message: `the model's SQL does not run: ${messageOf(err)}` });
          continue;
        }
        for (const [id, sync] of syncsByModel.get(name) ?? []) {
          if (!sync.filter) continue;
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
