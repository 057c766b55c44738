/** Default export BullMQ runs in the training child: dispatches by job name through the registry. */
import type { SandboxedJob } from 'bullmq';
import type { JobName } from '../../src/infra/queue/jobs.js';
import { assertRegistryComplete, loadProcessors } from '../registry.js';

const processors = await loadProcessors();
assertRegistryComplete(processors);

export default async function sandboxProcessor(
  job: SandboxedJob,
  token?: string,
  signal?: AbortSignal,
): Promise<unknown> {
  const processor = processors[job.name as JobName];
  if (!processor) throw new Error(`no processor for job name "${job.name}"`);
  return processor(job, token, signal);
}
