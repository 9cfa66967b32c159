/**
 * CPU time and peak resident memory of another process, read from Linux's /proc, so each process
 * the benchmark starts (ebb's worker, the Temporal server) is measured apart from the bench driver.
 *
 *   const usage = new ProcessUsage(child.pid);
 *   usage.start();            // zero the peak, note the CPU so far
 *   ...                       // the case runs
 *   usage.stop();             // { cpuSeconds, peakRssMb } of that stretch
 */
import fs from 'node:fs';

/** USER_HZ: the unit of utime and stime in /proc/<pid>/stat; 100 on every Linux ABI Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

export class ProcessUsageError extends Error {
  constructor(pid: number, detail: string) {
    super(`cannot read the resource usage of process ${pid} from /proc: ${detail} (the benchmark needs Linux)`);
    this.name = new.target.name;
  }
}

export interface UsageFigures {
  cpuSeconds: number;
  peakRssMb: number;
}

/** User plus system CPU seconds the process has used so far, its threads included. */
export function cpuSecondsOf(pid: number): number {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    throw new ProcessUsageError(pid, (err as Error).message);
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

function statusKb(pid: number, key: 'VmHWM' | 'VmRSS'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) : 0;
}

export class ProcessUsage {
  private cpuAtStart = 0;
  private sampledPeakKb = 0;
  private hwmReset = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly pid: number) {}

  start(): void {
    this.cpuAtStart = cpuSecondsOf(this.pid);
    // Writing 5 to clear_refs resets VmHWM (Linux 4.0+), so the peak belongs to this stretch alone.
    try {
      fs.writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
      this.hwmReset = true;
    } catch {
      this.hwmReset = false;
    }
    // Sampling covers kernels or sandboxes that refuse clear_refs; it can miss a peak shorter than 100 ms.
    this.sampledPeakKb = statusKb(this.pid, 'VmRSS');
    this.timer = setInterval(() => {
      try {
        this.sampledPeakKb = Math.max(this.sampledPeakKb, statusKb(this.pid, 'VmRSS'));
      } catch {
        // The process ended; stop() reports what was seen.
      }
    }, 100);
  }

  stop(): UsageFigures {
    clearInterval(this.timer);
    const peakKb = Math.max(this.sampledPeakKb, this.hwmReset ? statusKb(this.pid, 'VmHWM') : 0);
    return { cpuSeconds: cpuSecondsOf(this.pid) - this.cpuAtStart, peakRssMb: peakKb / 1024 };
  }
}
