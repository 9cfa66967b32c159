/**
 * A warehouse source: runs a model's SQL and streams its rows in bounded chunks.
 *
 *   const source = createSource(config.sources.warehouse);
 *   for await (const chunk of source.stream({ sql, chunkSize: 1000 })) { ... }
 *   await source.close();
 */
export type Row = Record<string, unknown>;

export interface ColumnInfo {
  name: string;
  /** The warehouse's own type name, e.g. VARCHAR, INTEGER, TIMESTAMP. */
  type: string;
}

export interface Source {
  /** Column names and types of a query's result, without reading its rows. */
  describe(sql: string): Promise<ColumnInfo[]>;
  /**
   * Streams the result in chunks of at most `chunkSize` rows; never holds the whole result in memory.
   * Values are plain JSON-friendly JS values: BIGINT/HUGEINT as number when safe else string,
   * DECIMAL as number, DATE as 'YYYY-MM-DD', TIMESTAMP as ISO-8601 string.
   */
  stream(input: { sql: string; chunkSize: number }): AsyncIterable<Row[]>;
  close(): Promise<void>;
}

export class SourceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
