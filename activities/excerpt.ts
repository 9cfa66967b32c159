/**
 * What people read (alerts, CLI lines) quotes at most a short excerpt of a text that may hold a row
 * value; the whole text stays in the state store (`ebb records --json`).
 *
 *   excerpt('x'.repeat(1_000_000)) // 'xxx…x… (999800 more characters)'
 */
export const EXCERPT_LENGTH = 200;

export function excerpt(text: string, max = EXCERPT_LENGTH): string {
  const oneLine = text.replace(/\s*\n\s*/g, ' ');
  return oneLine.length > max ? `${oneLine.slice(0, max)}… (${oneLine.length - max} more characters)` : oneLine;
}
