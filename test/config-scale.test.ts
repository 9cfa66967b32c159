/**
 * Checking a config takes time in proportion to its size: a generated config of thousands of syncs,
 * each with mistakes in it (every problem is placed in the file and filtered against the others),
 * checks within a generous multiple of a small one. A step that compares every sync with every
 * other one (or every problem with every key) makes the large config take ~15 times longer again.
 */
import { parseConfig } from '../config/load-config';
import { generatedConfig } from '../bench/generated-config';

jest.setTimeout(120_000);

function fastestOf(runs: number, work: () => void): number {
  let fastest = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    work();
    fastest = Math.min(fastest, Number(process.hrtime.bigint() - start) / 1e6);
  }
  return fastest;
}

test('a config 15 times larger, with as many mistakes per sync, is checked within 60 times as long', () => {
  const small = generatedConfig({ syncs: 200, mistakes: true });
  const large = generatedConfig({ syncs: 3000, mistakes: true });
  // Every sync's mistakes are found: the check did the whole work, not a shortcut.
  const smallProblems = parseConfig(small, { env: {} }).problems.length;
  expect(parseConfig(large, { env: {} }).problems.length).toBe(smallProblems * 15);

  const smallMs = fastestOf(3, () => parseConfig(small, { env: {} }));
  const largeMs = fastestOf(2, () => parseConfig(large, { env: {} }));
  expect(largeMs / smallMs).toBeLessThan(60);
});

test('a generated config without mistakes is valid, so the timing above is of a realistic config', () => {
  const { problems, config } = parseConfig(generatedConfig({ syncs: 50, mistakes: false }), { env: {} });
  expect(problems).toEqual([]);
  expect(Object.keys(config?.syncs ?? {})).toHaveLength(50);
});
