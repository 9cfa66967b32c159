/** Every source type ebb knows, by its `type` in ebb.yaml. Adding a source adds one line here. */
import { duckdbSourceConnector } from './duckdb/duckdb-source';
import { snowflakeSourceConnector } from './snowflake/snowflake-source';
import { postgresSourceConnector } from './postgres/postgres-source';
import { SourceError, type Source, type SourceConnector, type SourceContext } from './source';

export const sourceConnectors: Record<string, SourceConnector> = {
  [duckdbSourceConnector.type]: duckdbSourceConnector as SourceConnector,
  [snowflakeSourceConnector.type]: snowflakeSourceConnector as SourceConnector,
  [postgresSourceConnector.type]: postgresSourceConnector as SourceConnector,
};

/**
 * Opens `sources.<name>` of a loaded config (already validated by its connector's schema).
 *
 *   const source = openSource(config.sources.warehouse, { name: 'warehouse', baseDir });
 */
export function openSource(config: { type: string; [key: string]: unknown }, context: SourceContext): Source {
  const connector = sourceConnectors[config.type];
  if (!connector) {
    throw new SourceError(
      `sources.${context.name}: unknown source type '${config.type}'; known types: ${Object.keys(sourceConnectors).join(', ')}`,
    );
  }
  return connector.create(config, context);
}
