/** Human output helpers; every read command also has `--json` for machines. */
import { excerpt } from '../activities/excerpt';

export { excerpt };
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Cells longer than an excerpt are cut (an error message may quote a whole row value). */
export function printTable(rows: Array<Record<string, unknown>>, columns: string[]): void {
  const cell = (v: unknown) => (v === null || v === undefined ? '' : excerpt(String(v)));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${line(columns)}\n`);
  for (const r of rows) process.stdout.write(`${line(columns.map((c) => cell(r[c])))}\n`);
}

export function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** `run_number` -> `runNumber`: every `--json` output uses camelCase keys (docs/cli-json.md). */
export function camelCaseKeys<T extends object>(row: T): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(row).map(([key, value]) => [key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), value]),
  );
}

/** "1 record", "3 records". */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
