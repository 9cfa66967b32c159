/**
 * Turns a parsed `sources.<name>` entry of ebb.yaml into a Source.
 *
 *   const source = createSource(config.sources.warehouse, 'warehouse');
 */
import { createDuckDbSource } from './duckdb-source';
import { Source, SourceError } from './source';

export type SourceConfig = { type: 'duckdb'; path: string } | { type: string; [key: string]: unknown };

export function createSource(config: SourceConfig, name: string): Source {
  if (config.type === 'duckdb') {
    const { path } = config;
    if (typeof path !== 'string' || path === '') {
      throw new SourceError(`sources.${name}.path is required for a duckdb source: the DuckDB file to read`);
    }
    return createDuckDbSource({ path, name });
  }
  throw new SourceError(`sources.${name}: source type "${config.type}" is not supported yet; supported: duckdb`);
}
