/** Per-record outcomes of a delivery, counted for ebb_records_total under the activity's destination. */
import { activityScope } from './activity-scope';
import { countRecords } from './metrics';

export function countDeliveredRecords(
  syncId: string,
  results: ReadonlyArray<{ operation: string; status: 'succeeded' | 'failed' }>,
): void {
  countRecords(syncId, activityScope()?.destination ?? 'unknown', results);
}
