/**
 * The README's typed-client example, compiled by `npm run lint` (tsc): submits a split-mnist job,
 * waits for it and saves task 0's mask.
 * usage: KEY=... npx tsx examples/typescript-client.ts [http://127.0.0.1:3000]
 */
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRetainClient } from '../clients/typescript/index.js';

const retain = createRetainClient({
  baseUrl: process.argv[2] ?? 'http://127.0.0.1:3000',
  apiKey: process.env.KEY,
});
const { data: job, error } = await retain.POST('/v1/jobs', {
  body: { preset: 'split-mnist', training: { iterationsPerTask: 500 } },
});
if (error) throw new Error(`${error.error.code}: ${error.error.message}`);
const path = { id: job.id };
for (;;) {
  const { data } = await retain.GET('/v1/jobs/{id}', { params: { path } });
  console.log(data?.status, data?.progress.fraction);
  if (!data || ['succeeded', 'failed', 'cancelled'].includes(data.status)) break;
  await sleep(2000);
}
const { data: metrics } = await retain.GET('/v1/jobs/{id}/metrics', { params: { path } });
console.log('average accuracy', metrics?.averageAccuracy);
const { data: mask } = await retain.GET('/v1/jobs/{id}/tasks/{task}/mask', {
  params: { path: { ...path, task: 0 } },
  parseAs: 'arrayBuffer',
});
if (mask) await writeFile('mask.safetensors', Buffer.from(mask));
