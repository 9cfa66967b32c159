/**
 * The slice of SOQL the sandbox answers: one object, a field list, at most one condition and a
 * LIMIT.
 *
 *   SELECT Id, Name FROM Account WHERE External_Id__c IN ('a', 'b') LIMIT 10
 *   SELECT Id FROM Account WHERE External_Id__c = 'it\'s'
 *
 * Anything else is refused the way Salesforce refuses a query it cannot parse: MALFORMED_QUERY
 * with the query, a caret under the offending token and its row and column.
 */
import { SalesforceRequestError, type SalesforceOrg, type SalesforceRecord } from './salesforce-org';

export type SoqlValue = string | number | boolean | null;

export interface SoqlName {
  name: string;
  /** 1-based column in the query, for error messages. */
  column: number;
}

export interface SoqlQuery {
  text: string;
  fields: SoqlName[];
  object: SoqlName;
  where?: { field: SoqlName; values: SoqlValue[] };
  limit?: number;
}

type Token =
  | { kind: 'name'; text: string; column: number }
  | { kind: 'string'; value: string; column: number }
  | { kind: 'number'; value: number; text: string; column: number }
  | { kind: 'symbol'; text: string; column: number }
  | { kind: 'end'; column: number };

const escapes: Record<string, string> = {
  n: '\n',
  r: '\r',
  t: '\t',
  b: '\b',
  f: '\f',
  '"': '"',
  "'": "'",
  '\\': '\\',
};

export function parseSoql(text: string): SoqlQuery {
  const tokens = tokenize(text);
  let position = 0;
  const peek = (): Token => tokens[position] as Token;
  const next = (): Token => tokens[position++] as Token;
  const fail = (token: Token, detail: string): never => {
    throw soqlError(text, 'MALFORMED_QUERY', token.column, detail);
  };
  const unexpected = (token: Token): never =>
    fail(token, `unexpected token: ${token.kind === 'end' ? '<EOF>' : describe(token)}`);
  const keyword = (word: string): boolean => {
    const token = peek();
    if (token.kind === 'name' && token.text.toUpperCase() === word) {
      position++;
      return true;
    }
    return false;
  };
  const expectKeyword = (word: string) => {
    if (!keyword(word)) unexpected(peek());
  };
  const expectName = (): SoqlName => {
    const token = next();
    if (token.kind !== 'name') return unexpected(token);
    return { name: token.text, column: token.column };
  };
  const expectSymbol = (symbol: string) => {
    const token = next();
    if (token.kind !== 'symbol' || token.text !== symbol) unexpected(token);
  };
  const literal = (): SoqlValue => {
    const token = next();
    if (token.kind === 'string' || token.kind === 'number') return token.value;
    if (token.kind === 'name' && /^(true|false|null)$/i.test(token.text)) {
      const word = token.text.toLowerCase();
      return word === 'null' ? null : word === 'true';
    }
    return unexpected(token);
  };

  expectKeyword('SELECT');
  const fields = [expectName()];
  while (peek().kind === 'symbol' && (peek() as { text: string }).text === ',') {
    position++;
    fields.push(expectName());
  }
  expectKeyword('FROM');
  const object = expectName();
  const query: SoqlQuery = { text, fields, object };
  if (keyword('WHERE')) {
    const field = expectName();
    if (keyword('IN')) {
      expectSymbol('(');
      const values = [literal()];
      while (peek().kind === 'symbol' && (peek() as { text: string }).text === ',') {
        position++;
        values.push(literal());
      }
      expectSymbol(')');
      query.where = { field, values };
    } else {
      expectSymbol('=');
      query.where = { field, values: [literal()] };
    }
  }
  if (keyword('LIMIT')) {
    const token = next();
    if (token.kind !== 'number' || !Number.isInteger(token.value) || token.value < 0) return unexpected(token);
    query.limit = token.value;
  }
  if (peek().kind !== 'end') unexpected(peek());
  return query;
}

export interface QueryResult {
  totalSize: number;
  done: boolean;
  records: Array<Record<string, unknown>>;
}

/** GET /query?q=...: runs a query against the org's records, in the order they were created. */
export function runSoql(org: SalesforceOrg, text: string, version: string): QueryResult {
  const query = parseSoql(text);
  const definition = org.definition(query.object.name);
  if (!definition) {
    throw soqlError(text, 'INVALID_TYPE', query.object.column, `sObject type '${query.object.name}' is not supported.`);
  }
  const fieldsByName = new Map(definition.fields.map((f) => [f.name.toLowerCase(), f.name]));
  const resolve = (field: SoqlName): string => {
    const name = fieldsByName.get(field.name.toLowerCase());
    if (name === undefined) {
      throw soqlError(
        text,
        'INVALID_FIELD',
        field.column,
        `No such column '${field.name}' on entity '${definition.name}'.`,
      );
    }
    return name;
  };
  const selected = query.fields.map(resolve);
  const where = query.where && { field: resolve(query.where.field), values: query.where.values };
  // The sandbox compares text exactly, as for an External ID marked case sensitive; upserts match the same way.
  const matches = (record: SalesforceRecord) =>
    !where || where.values.some((value) => sameValue(record[where.field], value));
  const found = org
    .records(definition.name)
    .filter(matches)
    .slice(0, query.limit ?? Infinity);
  const records = found.map((record) => ({
    attributes: { type: definition.name, url: `/services/data/v${version}/sobjects/${definition.name}/${record.Id}` },
    ...Object.fromEntries(selected.map((name) => [name, record[name] ?? null])),
  }));
  return { totalSize: records.length, done: true, records };
}

function sameValue(stored: unknown, value: SoqlValue): boolean {
  if (value === null) return stored === null || stored === undefined;
  if (stored === null || stored === undefined) return false;
  if (typeof value === 'number') return Number(stored) === value;
  return String(stored) === String(value);
}

/** Salesforce points at the offending token: the query, a caret under it, then row, column and reason. */
export function soqlError(text: string, errorCode: string, column: number, detail: string): SalesforceRequestError {
  return new SalesforceRequestError(
    400,
    errorCode,
    `\n${text}\n${' '.repeat(column - 1)}^\nERROR at Row:1:Column:${column}\n${detail}`,
  );
}

function describe(token: Exclude<Token, { kind: 'end' }>): string {
  if (token.kind === 'string') return `'${token.value}'`;
  return token.text;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    const column = i + 1;
    if (/\s/.test(c)) {
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i)) as RegExpExecArray;
      tokens.push({ kind: 'name', text: match[0], column });
      i += match[0].length;
    } else if (/[0-9-]/.test(c)) {
      const match = /^-?\d+(\.\d+)?/.exec(text.slice(i));
      if (!match) throw soqlError(text, 'MALFORMED_QUERY', column, `unexpected token: ${c}`);
      tokens.push({ kind: 'number', value: Number(match[0]), text: match[0], column });
      i += match[0].length;
    } else if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        const d = text[i];
        if (d === undefined) throw soqlError(text, 'MALFORMED_QUERY', column, 'unterminated string literal');
        if (d === "'") break;
        if (d === '\\') {
          const escaped = text[i + 1] ?? '';
          const replacement = escapes[escaped];
          if (replacement === undefined) {
            throw soqlError(text, 'MALFORMED_QUERY', i + 1, `Invalid string literal: unknown escape \\${escaped}`);
          }
          value += replacement;
          i += 2;
        } else {
          value += d;
          i++;
        }
      }
      i++;
      tokens.push({ kind: 'string', value, column });
    } else if ('(),='.includes(c)) {
      tokens.push({ kind: 'symbol', text: c, column });
      i++;
    } else {
      throw soqlError(text, 'MALFORMED_QUERY', column, `unexpected token: ${c}`);
    }
  }
  tokens.push({ kind: 'end', column: text.length + 1 });
  return tokens;
}
