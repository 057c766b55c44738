// Entry of the dataset inspection thread (thread-inspector.ts). Worker threads do not inherit the
// TypeScript loader of `node --import tsx`, so it is registered here. Plain JS so that either works.
import { parentPort, workerData } from 'node:worker_threads';

const { register } = await import('tsx/esm/api');
register();
const { inspectInThread } = await import('./inspect.thread.ts');
parentPort.postMessage(await inspectInThread(workerData.path, workerData.decode));
