/**
 * Checks of what a person sends a controller from the Temporal UI, the CLI or a script. Pure and
 * synchronous, so update validators can run them (a rejected update leaves no trace in history)
 * and signal handlers can record why they ignored a signal.
 */
import type { RequestRunInput, RunKind } from './definitions';

/** A request the controller will not act on; its message is shown to the person who sent it. */
export class RejectedRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RejectedRequestError';
  }
}

const KINDS: readonly RunKind[] = ['incremental', 'full', 'replay'];

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The input as an object with only `allowed` keys; nothing (or null) is an empty object. */
function objectInput(
  name: string,
  input: unknown,
  allowed: readonly string[],
  example: string,
): Record<string, unknown> {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input))
    throw new RejectedRequestError(`${name} takes an object such as ${example} (or no input), not ${show(input)}`);
  const unknownKeys = Object.keys(input).filter((k) => !allowed.includes(k));
  if (unknownKeys.length)
    throw new RejectedRequestError(
      `${name} does not know ${unknownKeys.map((k) => `"${k}"`).join(', ')}; ${allowed.length ? `it takes ${allowed.map((k) => `"${k}"`).join(', ')}` : 'it takes no input'}`,
    );
  return input as Record<string, unknown>;
}

function runNumberOf(name: string, value: unknown, lastRunNumber: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new RejectedRequestError(`${name}: runNumber must be a run number (1, 2, ...), not ${show(value)}`);
  if (lastRunNumber !== undefined && value > lastRunNumber)
    throw new RejectedRequestError(
      `${name}: there is no run ${value} (${lastRunNumber ? `the last run is ${lastRunNumber}` : 'the sync has not run yet'})`,
    );
  return value;
}

function booleanOf(name: string, key: string, value: unknown): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new RejectedRequestError(`${name}: ${key} must be true or false, not ${show(value)}`);
}

/** `replayFailed`: nothing (the latest run with failed records) or `{"runNumber": n}`. */
export function checkReplayInput(input: unknown, lastRunNumber?: number): { runNumber?: number } {
  const o = objectInput('replayFailed', input, ['runNumber'], '{"runNumber": 3}');
  const runNumber = runNumberOf('replayFailed', o.runNumber, lastRunNumber);
  return runNumber === undefined ? {} : { runNumber };
}

/** `fullResync`: nothing or `{"allowDeletes": true}`. */
export function checkFullResyncInput(input: unknown): { allowDeletes?: boolean } {
  const o = objectInput('fullResync', input, ['allowDeletes'], '{"allowDeletes": true}');
  const allowDeletes = booleanOf('fullResync', 'allowDeletes', o.allowDeletes);
  return allowDeletes === undefined ? {} : { allowDeletes };
}

/** `pause` and `resume` take no input. */
export function checkNoInput(name: string, input: unknown): void {
  objectInput(name, input, [], '{}');
}

/** `runNow` and `requestRun`: a RequestRunInput. */
export function checkRunRequest(name: string, input: unknown, lastRunNumber?: number): RequestRunInput {
  const o = objectInput(
    name,
    input,
    ['kind', 'runNumber', 'source', 'allowDeletes', 'scheduleActive'],
    '{"kind": "full"}',
  );
  if (o.kind !== undefined && !KINDS.includes(o.kind as RunKind))
    throw new RejectedRequestError(`${name}: kind must be one of ${KINDS.join(', ')}, not ${show(o.kind)}`);
  if (o.source !== undefined && o.source !== 'manual' && o.source !== 'schedule')
    throw new RejectedRequestError(`${name}: source must be manual or schedule, not ${show(o.source)}`);
  const runNumber = runNumberOf(name, o.runNumber, lastRunNumber);
  if (runNumber !== undefined && (o.kind ?? 'incremental') !== 'replay')
    throw new RejectedRequestError(`${name}: runNumber applies only to kind "replay"`);
  booleanOf(name, 'allowDeletes', o.allowDeletes);
  booleanOf(name, 'scheduleActive', o.scheduleActive);
  return o as RequestRunInput;
}
