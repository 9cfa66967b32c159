/**
 * Read-only views of the config before it is known to be valid, so every check can run on a file
 * with other mistakes in it and all problems are reported at once.
 */
export type RawRecord = Record<string, unknown>;

export function asRecord(value: unknown): RawRecord | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as RawRecord) : undefined;
}

/** `section` of the top-level mapping as name -> entry, skipping entries that are not mappings. */
export function entriesOf(config: unknown, section: string): Array<[string, RawRecord]> {
  const entries = asRecord(asRecord(config)?.[section]) ?? {};
  return Object.entries(entries).flatMap(([name, entry]): Array<[string, RawRecord]> => {
    const record = asRecord(entry);
    return record ? [[name, record]] : [];
  });
}

export function namesOf(config: unknown, section: string): string[] {
  return Object.keys(asRecord(asRecord(config)?.[section]) ?? {});
}
