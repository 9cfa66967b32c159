/** `ebb verify`'s defaults, apart from its handler so the CLI's help can show them without loading it. */

/** Distinct from 1 (ebb failed) and 2 (a run delivered with failures), so scripts can tell drift apart. */
export const VERIFY_DRIFT_EXIT_CODE = 3;

export const DEFAULT_VERIFY_SAMPLE = 200;
