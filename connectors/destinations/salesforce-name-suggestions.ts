/** "Did you mean" candidates for a misspelt Salesforce object or field API name. */
import { distance as editDistance } from 'fastest-levenshtein';

export function closestNames(name: string, candidates: string[], max = 3): string[] {
  const target = name.toLowerCase();
  const limit = Math.max(2, Math.floor(target.length / 3));
  return candidates
    .map((candidate) => ({ candidate, distance: editDistance(target, candidate.toLowerCase()) }))
    .filter(
      ({ candidate, distance }) =>
        distance <= limit || candidate.toLowerCase().includes(target) || target.includes(candidate.toLowerCase()),
    )
    .sort((a, b) => a.distance - b.distance)
    .slice(0, max)
    .map(({ candidate }) => candidate);
}
