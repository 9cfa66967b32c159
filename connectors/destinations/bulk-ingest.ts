/**
 * A destination's bulk path (Salesforce Bulk API 2.0): a large run's records go to the destination
 * in a few asynchronous jobs instead of one request per batch. The engine decides when (the run's
 * record count against `threshold`), groups staged batches into jobs of at most `recordsPerJob`,
 * stores each job's id, and records the per-record outcomes a job returns; the connector encodes,
 * uploads, polls and reads results.
 *
 *   const bulk = destination.bulk;                       // undefined: the destination has none
 *   if (bulk?.threshold != null && records >= bulk.threshold) {
 *     const outcomes = await bulk.runJob({ operation: 'upsert', records, resumeJobId: null,
 *       jobCreated: (id) => store.saveJob(id), heartbeat, sleep });
 *   }
 */
import { DestinationError, type Operation, type RecordOutcome, type RecordToDeliver } from './destination';

export interface BulkIngest {
  /** A run with at least this many records to send takes the bulk path; null when this sync never does. */
  readonly threshold: number | null;
  /** Records one job takes at most; a larger run is split into several jobs. */
  readonly recordsPerJob: number;
  /** For `ebb plan`: the requests a bulk run of this many upserts and deletes makes, polls included. */
  estimateRequests(work: { upserts: number; deletes: number }): number;
  /** What `ebb plan` says about the path, e.g. "one Bulk API 2.0 job per 100,000 records". */
  describe(): string;
  /**
   * Sends `records` (all of one operation) through one job and returns exactly one outcome per
   * record, in input order. `resumeJobId` is the job an earlier attempt created for these same
   * records: it is polled and read rather than created again. A new job's id is handed to
   * `jobCreated`, and awaited, before any record is uploaded, so a crash after that point resumes it.
   * Throws BulkUploadTooLargeError, before creating anything, when the records do not fit one job.
   */
  runJob(job: BulkJobInput): Promise<RecordOutcome[]>;
  /**
   * Stops a job that has not finished (its run was cancelled): the destination processes none of
   * its records not yet processed. Throws when the job can no longer be aborted.
   */
  abort(jobId: string): Promise<void>;
}

export interface BulkJobInput {
  operation: Operation;
  records: RecordToDeliver[];
  resumeJobId: string | null;
  jobCreated(jobId: string): Promise<void>;
  /** Called between polls with the job's state, so a long job keeps its activity alive and shows where it is. */
  heartbeat(progress?: { jobId: string; state: string }): void;
  /** Waits between polls (cancellation-aware in an activity). */
  sleep(ms: number): Promise<void>;
}

/** The records of one job would exceed the destination's upload limit: the engine splits them. */
export class BulkUploadTooLargeError extends DestinationError {
  constructor(
    message: string,
    readonly bytes: number,
  ) {
    super(message);
  }
}
