/**
 * One processor per job name; the compiler checks that every JobName has one, and the worker
 * checks it again at boot (a stale build cannot start with a missing processor).
 */
import type { SandboxedJob } from 'bullmq';
import { JobName } from '../src/infra/queue/jobs.js';

export type Processor = (
  job: SandboxedJob,
  token: string | undefined,
  signal: AbortSignal | undefined,
) => Promise<unknown>;

export async function loadProcessors(): Promise<Record<JobName, Processor>> {
  const { processTrainJob } = await import('./processors/train-job.processor.js');
  return { [JobName.TrainJob]: processTrainJob };
}

export function assertRegistryComplete(processors: Partial<Record<JobName, Processor>>): void {
  const missing = Object.values(JobName).filter((name) => typeof processors[name] !== 'function');
  if (missing.length) throw new Error(`no processor registered for job(s) ${missing.join(', ')}`);
}
