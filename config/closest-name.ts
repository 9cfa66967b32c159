/** "Did you mean" suggestions for names a config refers to (models, destinations, keys). */

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The candidate nearest to `name`, or undefined when none is close enough to be a plausible typo. */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  const lowered = name.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(lowered, candidate.toLowerCase());
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  // A third of the length tolerates one or two typos in short names without suggesting unrelated ones.
  if (best && best.distance <= Math.max(2, Math.floor(name.length / 3))) return best.candidate;
  return undefined;
}

/** Hint for a reference to an unknown name: the closest match first, then every known name. */
export function knownNamesHint(kind: string, name: string, candidates: readonly string[]): string {
  if (candidates.length === 0) return `no ${kind} is defined`;
  const closest = closestName(name, candidates);
  const known = `known ${kind}: ${candidates.join(', ')}`;
  return closest ? `did you mean '${closest}'? (${known})` : known;
}
