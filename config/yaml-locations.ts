/** Maps config paths to line and column in the YAML source, and positions back to paths. */
import fs from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from 'yaml';
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
      const pair = node.items.find((item) => String(keyOf(item)) === String(segment));
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

/** The path of the deepest mapping key or list item that contains `offset`. */
export function pathAtOffset(doc: Document, offset: number): (string | number)[] {
  const path: (string | number)[] = [];
  let node: unknown = doc.contents;
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((item) => {
        const start = startOf(item.key);
        const end = (item.value as Node | null)?.range?.[2] ?? (item.key as Node | null)?.range?.[2];
        return start !== undefined && end !== undefined && start <= offset && offset < Math.max(end, start + 1);
      });
      if (!pair) return path;
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

/** Line of the first occurrence of `key` in the mapping at `parentPath` (for duplicate-key messages). */
export function firstKeyLine(
  doc: Document,
  lineCounter: LineCounter,
  parentPath: readonly (string | number)[],
  key: string,
): number | undefined {
  const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
  if (!isMap(parent)) return undefined;
  const pair = parent.items.find((item) => String(keyOf(item)) === key);
  const start = pair ? startOf(pair.key) : undefined;
  return start === undefined ? undefined : lineCounter.linePos(start).line;
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
  const doc = parseDocument(source, { lineCounter });
  return problems.map((p) => (p.line !== undefined ? p : { ...p, ...locate(doc, lineCounter, p.path.split('.')) }));
}
