/**
 * Counts the HTTP requests a delivery makes, for the run's "API calls" figure. Connectors call
 * `countRequest()` once per request they send; the engine wraps each delivery in `countingRequests`.
 * AsyncLocalStorage keeps concurrent deliveries through one shared destination apart.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const current = new AsyncLocalStorage<{ requests: number }>();

export function countRequest(): void {
  const counter = current.getStore();
  if (counter) counter.requests++;
}

/** Runs `fn`; `counter.requests` grows with every request it sends, also when it throws. */
export function countingRequests<T>(counter: { requests: number }, fn: () => Promise<T>): Promise<T> {
  return current.run(counter, fn);
}
