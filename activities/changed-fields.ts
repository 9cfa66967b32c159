/**
 * Changed fields only: an update of a delivered record carries just the fields whose values changed
 * since the last accepted delivery, so a person's edit in the destination to a field the warehouse
 * did not change is left alone (a CSM's `Segment__c` survives a change to `health`).
 *
 * The snapshot keeps one short hash per payload field next to the whole payload's hash. A record
 * staged for an update is compared field by field with them; new records, full resyncs and
 * snapshots written before per-field hashes existed send every field (and store the hashes, so the
 * next update is partial).
 *
 *   const hashes = fieldHashes({ External_Id__c: 'acme', Health_Score__c: 30, Segment__c: 'smb' });
 *   writtenFields(payload, { previous: snapshot.fieldHashes, keep: ['External_Id__c'] });
 *   // { payload: { External_Id__c: 'acme', Health_Score__c: 30 }, fields: ['Health_Score__c'] }
 */
import { hash } from 'node:crypto';
import { canonical } from './record-hash';

/** Field name -> hash of its value, as stored in the snapshot (JSON text). */
export type FieldHashes = Record<string, string>;

/**
 * 128 bits of SHA-256 per field (22 base64url characters): a snapshot of a million records with ten
 * fields holds 22 bytes a field instead of 64, with the chance of two different values colliding
 * far below that of a lost write.
 */
function fieldHash(value: unknown): string {
  return hash('sha256', canonical(value), 'base64url').slice(0, 22);
}

/** The per-field hashes of a payload, as JSON text for the snapshot. */
export function fieldHashes(payload: Record<string, unknown>): string {
  const out: FieldHashes = {};
  for (const [field, value] of Object.entries(payload)) if (value !== undefined) out[field] = fieldHash(value);
  return JSON.stringify(out);
}

/** Stored per-field hashes, or null for a snapshot written before they existed (or unreadable ones). */
export function parseFieldHashes(text: string | null | undefined): FieldHashes | null {
  if (!text) return null;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as FieldHashes) : null;
  } catch {
    return null;
  }
}

/** The fields of `payload` whose value differs from the one the hashes were taken of (or that were absent then). */
export function fieldsChangedSince(payload: Record<string, unknown>, previous: FieldHashes): string[] {
  return Object.keys(payload).filter((field) => {
    const value = payload[field];
    return value !== undefined && previous[field] !== fieldHash(value);
  });
}

/**
 * What an update writes: with the previous delivery's per-field hashes, the `keep` fields (the key the
 * destination matches the record by) and the changed ones; without them, the whole payload.
 * `fields` lists the written fields other than the kept ones, in payload order.
 */
export function writtenFields(
  payload: Record<string, unknown>,
  options: { previous: FieldHashes | null; keep: readonly string[] },
): { payload: Record<string, unknown>; fields: string[] } {
  const keep = new Set(options.keep);
  if (!options.previous) return { payload, fields: Object.keys(payload).filter((f) => !keep.has(f)) };
  const fields = fieldsChangedSince(payload, options.previous).filter((f) => !keep.has(f));
  const partial: Record<string, unknown> = {};
  for (const field of Object.keys(payload))
    if (keep.has(field) || fields.includes(field)) partial[field] = payload[field];
  return { payload: partial, fields };
}
