/**
 * What a user reads when the queue, not the training code, ended an attempt: the training
 * process died (out of memory, a native crash, killed), or its worker stopped renewing the lock
 * too often. BullMQ only has a reason string for these; this turns it into a stable code.
 */
import type { JobError } from '../ports.js';

export function describeQueueFailure(reason: string, attempts: number): JobError {
  const died = /Unexpected exit code: (\S+) signal: (\S+)/.exec(reason);
  if (died) {
    const how = died[2] !== 'null' ? `was killed by ${died[2]}` : `exited with code ${died[1]}`;
    return {
      code: 'TRAINING_PROCESS_DIED',
      message: `the training process ${how} (${attempts} attempt${attempts === 1 ? '' : 's'}); running out of memory is the usual cause: try a smaller network, batch or chunk size`,
    };
  }
  if (/stalled more than allowable limit/.test(reason)) {
    return {
      code: 'WORKER_LOST',
      message: `the worker training this job stopped answering too many times (${attempts} attempt${attempts === 1 ? '' : 's'}); submit the job again`,
    };
  }
  return {
    code: 'TRAINING_FAILED',
    message: `${reason} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`,
  };
}
