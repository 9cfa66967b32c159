/**
 * Builds the SQL a plan streams: the model, narrowed by the sync's filter and cursor, ordered by
 * primary key so rows sharing a key arrive next to each other (duplicates are found without
 * holding the model in memory). Keys are compared as text, the form they are stored in.
 */
export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
export const literal = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/** A model is wrapped in a subquery, where a closing `;` would be a syntax error. */
export function withoutTrailingSemicolons(sql: string): string {
  return sql.replace(/[\s;]+$/, '');
}

export interface ModelQueryInput {
  modelSql: string;
  primaryKey: string;
  filter?: string;
  cursor?: { column: string; after: string | null };
}

/** The model with the sync's filter and cursor applied, unordered. */
export function filteredModelQuery(input: Omit<ModelQueryInput, 'primaryKey'>): string {
  const where: string[] = [];
  if (input.filter) where.push(`(${input.filter})`);
  if (input.cursor?.after != null) where.push(`${ident(input.cursor.column)} > ${literal(input.cursor.after)}`);
  const model = withoutTrailingSemicolons(input.modelSql.trim());
  return `select * from (${model}) as ebb_model` + (where.length ? ` where ${where.join(' and ')}` : '');
}

export function buildModelQuery(input: ModelQueryInput): string {
  return `${filteredModelQuery(input)} order by cast(${ident(input.primaryKey)} as varchar)`;
}
