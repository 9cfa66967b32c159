/** Named timeout and retry presets for every activity the workflows call. */
import type { ActivityOptions } from '@temporalio/workflow';

/** Errors no retry can fix; everything else (network, 5xx, 429) is retried with backoff. */
export const NON_RETRYABLE = [
  'FatalDestinationError',
  'ConfigError',
  'SourceError',
  'ModelReadError',
  'DeletionGuardError',
  'StateStoreError',
];

export const shortActivity: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: NON_RETRYABLE },
};

export const planningActivity: ActivityOptions = {
  startToCloseTimeout: '1 hour',
  // Plan heartbeats per chunk; a dead worker is noticed within this window, not after an hour.
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '2 seconds',
    maximumInterval: '1 minute',
    maximumAttempts: 10,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
};

export const deliveryActivity: ActivityOptions = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '20 seconds',
  // Unlimited attempts: a destination outage delays the run but loses nothing; Retry-After overrides the backoff.
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '2 minutes',
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
};

/**
 * Bulk delivery (Bulk API 2.0): one activity creates the run's jobs, uploads, then polls while
 * Salesforce processes them, which may take hours for millions of records. It heartbeats every poll
 * (and every few seconds during an upload), so a dead worker is noticed within the heartbeat timeout
 * and the retry resumes polling the same job (recorded in the state store before its upload).
 */
export const bulkDeliveryActivity: ActivityOptions = {
  startToCloseTimeout: '12 hours',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '2 minutes',
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
};

/** finish saves accepted rows' hashes to the warehouse (warehouse-side diff): up to one write per thousand records. */
export const finishingActivity: ActivityOptions = {
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    maximumAttempts: 20,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
};
