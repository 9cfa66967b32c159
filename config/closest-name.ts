/** "Did you mean" suggestions for names a config refers to (models, destinations, keys). */
import { distance as editDistance } from 'fastest-levenshtein';

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
