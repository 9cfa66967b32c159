/**
 * Liquid templates for Slack messages: a sync's `template` (message text) and `blocks` (Block Kit
 * JSON). Values from the warehouse are escaped by default, so a customer called `A&B <Ltd>` cannot
 * break a message or smuggle a `<!channel>` mention into it; `{{ value | raw }}` opts out.
 *
 *   const t = compileTemplate('*{{ name }}* MRR {{ mrr | currency }}', 'syncs.at-risk.template');
 *   render(t, { name: 'Acme', mrr: 1200 }); // '*Acme* MRR $1,200.00'
 *
 * Rendering is synchronous because `prepare(row)` is synchronous and pure.
 */
import type * as LiquidJs from 'liquidjs';
import type { Liquid, Template } from 'liquidjs';

// Loaded with the first template: every CLI command loads the connector registry.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy, see above
const liquidJs = () => require('liquidjs') as typeof LiquidJs;

/** A template that does not parse or cannot render a row; `where` is its config path. */
export class TemplateError extends Error {
  constructor(
    readonly where: string,
    readonly liquidMessage: string,
    phase: 'parse' | 'render',
  ) {
    super(
      phase === 'parse'
        ? `${where}: the Liquid template does not parse: ${liquidMessage}`
        : `${where}: the Liquid template failed on this row: ${liquidMessage}`,
    );
    this.name = new.target.name;
  }
}

/**
 * `mrkdwn` output goes into message text; `json` output goes inside JSON string literals of a
 * Block Kit template, so it is also JSON-escaped (a quote in a value cannot end the string).
 */
export type TemplateFormat = 'mrkdwn' | 'json';

export interface CompiledTemplate {
  readonly where: string;
  readonly format: TemplateFormat;
  /** Top-level names the template reads (row columns), for static checks against the model. */
  readonly variables: string[];
  readonly templates: Template[];
}

/** Slack asks for exactly these three to be escaped in mrkdwn text; nothing else has an escape. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Marks a value the template author chose not to escape (`| raw`, which must be the last filter). */
class RawText {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

function toText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof RawText) return value.text;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toText).join('');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function toNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

function fractionDigits(decimals: unknown, fallback: { min: number; max: number }): { min: number; max: number } {
  const d = toNumber(decimals);
  if (d === null) return fallback;
  const n = Math.max(0, Math.min(20, Math.trunc(d)));
  return { min: n, max: n };
}

/** Formatting is fixed to en-US and UTC so the same row always renders (and hashes) the same on every worker. */
const filters: Record<string, (value: unknown, ...args: unknown[]) => unknown> = {
  /** `{{ 1234.5 | number }}` -> 1,234.5; `{{ 1234.5 | number: 2 }}` -> 1,234.50. */
  number(value, decimals) {
    const n = toNumber(value);
    if (n === null) return value;
    const { min, max } = fractionDigits(decimals, { min: 0, max: 2 });
    return new Intl.NumberFormat('en-US', { minimumFractionDigits: min, maximumFractionDigits: max }).format(n);
  },
  /** `{{ 1200 | currency }}` -> $1,200.00; `{{ 1200 | currency: 'EUR', 0 }}` -> €1,200. */
  currency(value, code, decimals) {
    const n = toNumber(value);
    if (n === null) return value;
    const currency = typeof code === 'string' && code !== '' ? code.toUpperCase() : 'USD';
    const { min, max } = fractionDigits(decimals, { min: 2, max: 2 });
    return new Intl.NumberFormat('en-US', {
      style: 'currency',
      currency,
      minimumFractionDigits: min,
      maximumFractionDigits: max,
    }).format(n);
  },
  /** A ratio as a percentage: `{{ 0.125 | percent }}` -> 13%; `{{ 0.125 | percent: 1 }}` -> 12.5%. */
  percent(value, decimals) {
    const n = toNumber(value);
    if (n === null) return value;
    const { min, max } = fractionDigits(decimals, { min: 0, max: 0 });
    return new Intl.NumberFormat('en-US', {
      style: 'percent',
      minimumFractionDigits: min,
      maximumFractionDigits: max,
    }).format(n);
  },
  /** `{{ updated_at | date_iso }}` -> 2024-05-01T12:00:00.000Z (UTC). */
  date_iso(value) {
    if (value === null || value === undefined || value === '') return value;
    const date = value instanceof Date ? value : new Date(typeof value === 'number' ? value : String(value));
    return Number.isNaN(date.getTime()) ? value : date.toISOString();
  },
  /** Escapes explicitly, e.g. after `| raw` was used on part of a value. */
  mrkdwn(value) {
    return new RawText(escapeMrkdwn(toText(value)));
  },
  raw(value) {
    return new RawText(toText(value));
  },
};

function createLiquid(format: TemplateFormat): Liquid {
  const escapeOutput = (value: unknown): string => {
    const text = value instanceof RawText ? value.text : escapeMrkdwn(toText(value));
    return format === 'json' ? JSON.stringify(text).slice(1, -1) : text;
  };
  const liquid = new (liquidJs().Liquid)({
    strictFilters: true,
    // A misspelt column fails loudly instead of sending a message with a hole in it; rows always
    // carry every selected column (null when empty), so this only fires on names the model lacks.
    strictVariables: true,
    lenientIf: true,
    ownPropertyOnly: true,
    timezoneOffset: 0,
    outputEscape: escapeOutput,
  });
  for (const [name, handler] of Object.entries(filters)) liquid.registerFilter(name, handler);
  return liquid;
}

const engines: Partial<Record<TemplateFormat, Liquid>> = {};
const engine = (format: TemplateFormat): Liquid => (engines[format] ??= createLiquid(format));

function liquidMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Parses a template once; throws TemplateError naming `where` (e.g. `syncs.at-risk.template`) with Liquid's line and column. */
export function compileTemplate(source: string, where: string, format: TemplateFormat = 'mrkdwn'): CompiledTemplate {
  const liquid = engine(format);
  try {
    const templates = liquid.parse(source);
    const variables = liquid.globalVariablesSync(templates);
    return { where, format, variables, templates };
  } catch (error) {
    throw new TemplateError(where, liquidMessage(error), 'parse');
  }
}

/** Renders one row; throws TemplateError (e.g. an undefined variable) naming the template's `where`. */
export function render(compiled: CompiledTemplate, row: Record<string, unknown>): string {
  try {
    return engine(compiled.format).renderSync(compiled.templates, row);
  } catch (error) {
    throw new TemplateError(compiled.where, liquidMessage(error), 'render');
  }
}
