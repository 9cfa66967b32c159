/**
 * The plan's side of a connection's `apiBudget`: a run whose sObject Collections requests would not
 * fit in what is left of the share this window, while a Bulk API 2.0 job's handful of requests
 * would, goes through Bulk even below the bulk threshold (a sync with `bulk: false` never does).
 * Without a budget, or before any worker has computed a maxPercent share this window, the threshold
 * alone decides (plan-run.ts `deliveryPath`).
 */
import { apiBudgetSchema } from '../connectors/destinations/api-budget';
import type { Destination } from '../connectors/destinations/destination';
import { apiBudgetStanding } from '../state/api-budget-windows';
import type { StateStore } from '../state/state-store';

export async function budgetPrefersBulk(input: {
  store: StateStore;
  destination: { name: string; connection: unknown };
  sending: Destination;
  toSend: { upserts: number; deletes: number };
  batches: number;
}): Promise<boolean> {
  const { sending: destination, toSend } = input;
  const bulk = destination.bulk;
  const records = toSend.upserts + toSend.deletes;
  if (!bulk || bulk.threshold === null || records === 0) return false;
  const budget = apiBudgetSchema.safeParse((input.destination.connection as { apiBudget?: unknown }).apiBudget);
  if (!budget.success) return false;
  const { used, share } = await apiBudgetStanding(input.store, input.destination.name, budget.data);
  if (share === null) return false;
  const collections = destination.estimateRequests?.({ records, batches: input.batches }) ?? input.batches;
  return collections > share - used && bulk.estimateRequests(toSend) < collections;
}
