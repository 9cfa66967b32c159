/** Maps config paths to line and column in the YAML source, and positions back to paths. */
import fs from 'node:fs';
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
  type Document,
  type Node,
  type Pair,
  type YAMLMap,
} from 'yaml';
import type { ConfigProblem } from './config-problem';

export interface Location {
  line: number;
  column: number;
}

function keyOf(pair: Pair): unknown {
  return isScalar(pair.key) ? pair.key.value : pair.key;
}

function startOf(node: unknown): number | undefined {
  if (node && typeof node === 'object' && 'range' in node) {
    const range = (node as Node).range;
    return range ? range[0] : undefined;
  }
  return undefined;
}

// A config's big mappings (syncs, models) hold thousands of keys and every problem looks one up:
// an index per mapping keeps that linear in the file's size, where a scan per lookup is quadratic.
const pairIndexes = new WeakMap<YAMLMap, Map<string, Pair>>();

function pairOf(map: YAMLMap, key: string | number): Pair | undefined {
  let index = pairIndexes.get(map);
  if (!index) {
    index = new Map();
    for (const item of map.items) {
      const name = String(keyOf(item));
      if (!index.has(name)) index.set(name, item);
    }
    pairIndexes.set(map, index);
  }
  return index.get(String(key));
}

/**
 * Where `path` is written. A scalar points at its value; a mapping or list at the key that opens it
 * (its own range would start at its first child). A path that does not exist (a missing key) points
 * at the nearest parent that does.
 */
export function locate(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly (string | number)[],
): Location | undefined {
  let node: unknown = doc.contents;
  let offset = startOf(node);
  for (const segment of path) {
    if (isMap(node)) {
      const pair = pairOf(node, segment);
      if (!pair) break;
      offset = startOf(pair.key) ?? offset;
      node = pair.value;
      if (isScalar(node)) offset = startOf(node) ?? offset;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      offset = startOf(node) ?? offset;
    } else {
      break;
    }
  }
  if (offset === undefined) return undefined;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

/** The last of `items` (in source order) that starts at or before `offset`, by binary search. */
function lastStartingBefore<T>(items: readonly T[], offset: number, startOfItem: (item: T) => number | undefined) {
  let low = 0;
  let high = items.length - 1;
  let found: T | undefined;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const item = items[middle] as T;
    const start = startOfItem(item);
    if (start !== undefined && start <= offset) {
      found = item;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

/** The path of the deepest mapping key or list item that contains `offset`. */
export function pathAtOffset(doc: Document, offset: number): (string | number)[] {
  const path: (string | number)[] = [];
  let node: unknown = doc.contents;
  for (;;) {
    if (isMap(node)) {
      const pair = lastStartingBefore(node.items, offset, (item) => startOf(item.key));
      const start = pair ? startOf(pair.key) : undefined;
      const end = (pair?.value as Node | null)?.range?.[2] ?? (pair?.key as Node | null)?.range?.[2];
      if (!pair || start === undefined || end === undefined || offset >= Math.max(end, start + 1)) return path;
      path.push(String(keyOf(pair)));
      node = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => {
        const range = (item as Node | null)?.range;
        return range !== undefined && range !== null && range[0] <= offset && offset < range[2];
      });
      if (index < 0) return path;
      path.push(index);
      node = node.items[index];
    } else {
      return path;
    }
  }
}

/** Adds line and column (from the YAML source) to problems found after loading, which have only a path. */
export function placeProblems(file: string, problems: ConfigProblem[]): ConfigProblem[] {
  if (problems.every((p) => p.line !== undefined)) return problems;
  let source: string;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch {
    // An unreadable file is itself the problem loadConfig reported; there are no lines to add.
    return problems;
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, uniqueKeys: false });
  return problems.map((p) => (p.line !== undefined ? p : { ...p, ...locate(doc, lineCounter, p.path.split('.')) }));
}

export interface DuplicateKey {
  /** Path of the repeated key, e.g. ['syncs', 'accounts-to-sf']. */
  path: (string | number)[];
  /** Offsets of the repeated key and of its first occurrence. */
  offset: number;
  firstOffset: number;
}

/**
 * Keys repeated within one mapping, found with a set per mapping. The yaml library's own check
 * (`uniqueKeys: true`) compares each key with every earlier one, which takes minutes on a config
 * with thousands of syncs; parse with `uniqueKeys: false` and call this instead.
 */
export function duplicateKeys(doc: Document): DuplicateKey[] {
  const found: DuplicateKey[] = [];
  visit(doc, {
    Map(_key, map, ancestry) {
      const seen = new Map<string, number>();
      for (const item of map.items) {
        const name = String(keyOf(item));
        const offset = startOf(item.key);
        if (offset === undefined) continue;
        const first = seen.get(name);
        if (first === undefined) {
          seen.set(name, offset);
          continue;
        }
        found.push({ path: [...pathOf(ancestry), name], offset, firstOffset: first });
      }
    },
  });
  return found;
}

/** The config path of a node from the ancestors `visit` passes (documents, pairs, collections). */
function pathOf(ancestry: readonly unknown[]): (string | number)[] {
  const path: (string | number)[] = [];
  ancestry.forEach((node, index) => {
    const child = ancestry[index + 1];
    if (isSeq(node) && child !== undefined) path.push(node.items.indexOf(child as Node));
    else if (node !== null && typeof node === 'object' && 'key' in node && 'value' in node) {
      path.push(String(keyOf(node as Pair)));
    }
  });
  return path;
}
