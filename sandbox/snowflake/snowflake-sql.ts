/**
 * The slice of Snowflake SQL the sandbox understands, translated to DuckDB where that is cheap.
 *
 * Accepted as Snowflake would:
 *   - `alter session set NAME = value [NAME = value ...]` and `alter session unset NAME`: recorded
 *     per session (QUERY_TAG, STATEMENT_TIMEOUT_IN_SECONDS, TIMEZONE and any other name), not sent
 *     to DuckDB;
 *   - `use warehouse|database|schema|role <name>`: recorded on the session, nothing else;
 *   - types NUMBER/NUMERIC(p,s) -> DECIMAL(p,s), NUMBER -> DECIMAL(38,0), VARIANT/OBJECT -> JSON,
 *     TIMESTAMP_NTZ -> TIMESTAMP, TIMESTAMP_TZ/TIMESTAMP_LTZ -> TIMESTAMPTZ, in casts and DDL;
 *   - functions PARSE_JSON(x) -> json(x), IFF(c, a, b) -> if(c, a, b), TO_BINARY(x) -> unhex(x).
 *
 * Differs from Snowflake (everything else is DuckDB's dialect, executed as written):
 *   - unquoted identifiers are not folded to upper case by DuckDB; the sandbox upper-cases result
 *     column names unless the SQL quotes them ("name"), which is what Snowflake shows in most cases;
 *   - tables live in DuckDB's default catalog and schema; the session's database and schema are
 *     recorded but do not qualify names;
 *   - one statement per request (no multi-statement); binds are not supported;
 *   - the translations above are textual (outside string literals), not a parser.
 */
export type SessionCommand =
  | { kind: 'set'; parameters: Record<string, string | number | boolean> }
  | { kind: 'unset'; names: string[] }
  | { kind: 'use'; object: string; name: string };

/** Reads `alter session set/unset` and `use ...`; undefined for anything DuckDB should run. */
export function parseSessionCommand(sql: string): SessionCommand | undefined {
  const text = sql.trim().replace(/;+\s*$/, '');
  const set = /^alter\s+session\s+set\s+([\s\S]+)$/i.exec(text);
  if (set) {
    const parameters: Record<string, string | number | boolean> = {};
    const assignment = /([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^']|'')*'|[^\s,]+)\s*,?/g;
    for (const match of (set[1] ?? '').matchAll(assignment)) {
      const [, name = '', raw = ''] = match;
      parameters[name.toUpperCase()] = parameterValue(raw);
    }
    return { kind: 'set', parameters };
  }
  const unset = /^alter\s+session\s+unset\s+([\s\S]+)$/i.exec(text);
  if (unset) {
    return {
      kind: 'unset',
      names: (unset[1] ?? '')
        .split(/[\s,]+/)
        .filter(Boolean)
        .map((name) => name.toUpperCase()),
    };
  }
  const use = /^use\s+(warehouse|database|schema|role)\s+(\S+)$/i.exec(text);
  if (use) return { kind: 'use', object: (use[1] ?? '').toLowerCase(), name: unquote(use[2] ?? '') };
  return undefined;
}

function parameterValue(raw: string): string | number | boolean {
  if (raw.startsWith("'")) return raw.slice(1, -1).replace(/''/g, "'");
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (/^(true|false)$/i.test(raw)) return raw.toLowerCase() === 'true';
  return raw;
}

function unquote(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1) : name.toUpperCase();
}

const TYPE_TRANSLATIONS: Array<[RegExp, string]> = [
  [/\b(?:number|numeric)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)/gi, 'DECIMAL($1,$2)'],
  [/\b(?:number|numeric)\s*\(\s*(\d+)\s*\)/gi, 'DECIMAL($1,0)'],
  [/\bnumber\b(?!\s*\()/gi, 'DECIMAL(38,0)'],
  [/\b(?:variant|object)\b(?!\s*\()/gi, 'JSON'],
  [/\btimestamp_ntz\b/gi, 'TIMESTAMP'],
  [/\btimestamp_(?:tz|ltz)\b/gi, 'TIMESTAMPTZ'],
  [/\bparse_json\s*\(/gi, 'json('],
  [/\biff\s*\(/gi, 'if('],
  [/\bto_binary\s*\(/gi, 'unhex('],
];

/** Snowflake-isms rewritten for DuckDB, leaving string literals and quoted identifiers alone. */
export function toDuckDbSql(sql: string): string {
  const text = sql.trim().replace(/;+\s*$/, '');
  // Odd parts are literals ('...') or quoted identifiers ("..."); only the even parts are SQL text.
  return text
    .split(/('(?:[^']|'')*'|"(?:[^"]|"")*")/)
    .map((part, index) =>
      index % 2 === 1 ? part : TYPE_TRANSLATIONS.reduce((out, [pattern, to]) => out.replace(pattern, to), part),
    )
    .join('');
}

/** Snowflake folds unquoted identifiers to upper case; a name the SQL quotes keeps its case. */
export function snowflakeColumnName(name: string, sql: string): string {
  return sql.includes(`"${name}"`) ? name : name.toUpperCase();
}
