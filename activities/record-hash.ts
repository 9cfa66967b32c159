import { hash } from 'node:crypto';

/**
 * Sorted keys (quoted for JSON) per object shape. Records of one sync share a shape, so the sort
 * runs once per shape instead of once per record: planning a million rows hashes a million records.
 * Bounded, in case payloads come in many shapes (JSON columns).
 */
const sortedKeysByShape = new Map<string, Array<[key: string, quoted: string]>>();
const MAX_SHAPES = 1000;

function sortedKeys(value: object): Array<[string, string]> {
  const keys = Object.keys(value);
  const shape = keys.join('\u0000');
  let sorted = sortedKeysByShape.get(shape);
  if (!sorted) {
    sorted = [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((k) => [k, JSON.stringify(k)]);
    if (sortedKeysByShape.size >= MAX_SHAPES) sortedKeysByShape.clear();
    sortedKeysByShape.set(shape, sorted);
  }
  return sorted;
}

/** JSON with object keys sorted, so equal records hash equally whatever the key order. */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  let out = '{';
  let first = true;
  for (const [key, quoted] of sortedKeys(value)) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) continue;
    out += `${first ? '' : ','}${quoted}:${canonical(v)}`;
    first = false;
  }
  return `${out}}`;
}

export function recordHash(payload: Record<string, unknown>): string {
  // One-shot hashing: no Hash object per record.
  return hash('sha256', canonical(payload), 'hex');
}
