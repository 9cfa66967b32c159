/** Peak memory of this process while some work runs, sampled every 50 ms (plus once at each end). */
export interface MemoryPeak {
  /** Resident set size: everything the process holds, native memory (Temporal core, DuckDB) included. */
  rssBytes: number;
  heapUsedBytes: number;
}

export async function measurePeakMemory<T>(work: () => Promise<T>): Promise<{ result: T; peak: MemoryPeak }> {
  const peak: MemoryPeak = { rssBytes: 0, heapUsedBytes: 0 };
  const sample = () => {
    const usage = process.memoryUsage();
    peak.rssBytes = Math.max(peak.rssBytes, usage.rss);
    peak.heapUsedBytes = Math.max(peak.heapUsedBytes, usage.heapUsed);
  };
  sample();
  const timer = setInterval(sample, 50);
  try {
    const result = await work();
    sample();
    return { result, peak };
  } finally {
    clearInterval(timer);
  }
}
