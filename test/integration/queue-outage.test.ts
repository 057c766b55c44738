/**
 * The API's queue adapter while Redis is unreachable: every call fails within a bounded time
 * (BullMQ alone waits forever for a connection that was never ready), with our message and the
 * driver's error as its cause, and callers waiting together share one wait on the connection.
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { producerConnection } from '../../src/infra/queue/connection.js';
import { BullTrainingQueue } from '../../src/infra/queue/training.queue.js';

const connection = producerConnection('redis://127.0.0.1:1');
connection.on('error', () => {});
const queue = new BullTrainingQueue(connection, {
  name: 'test-outage',
  prefix: 'bull',
  attempts: 1,
  backoffMs: 1,
});
after(() => queue.close());

/** The promise, or a failure after `ms`. */
function within<T>(what: string, p: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>(
      (_, reject) =>
        (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)),
    ),
  ]).finally(() => clearTimeout(timer));
}

it('enqueue, has and removeIfWaiting fail instead of waiting for Redis forever', async () => {
  for (const [name, call] of [
    ['enqueue', () => queue.enqueue('00000000-0000-4000-8000-000000000000')],
    ['has', () => queue.has('00000000-0000-4000-8000-000000000000')],
    ['removeIfWaiting', () => queue.removeIfWaiting('00000000-0000-4000-8000-000000000000')],
  ] as const) {
    const err: Error = await within(
      name,
      call().then(
        () => assert.fail(`${name} succeeded`),
        (e: Error) => e,
      ),
    );
    assert.match(err.message, /^Redis is not reachable/, name);
    assert.ok(err.cause, `${name}: the driver's error is kept as the cause`);
  }
});

it('many callers at once share one wait on the connection', async () => {
  const before = connection.listenerCount('ready');
  const calls = Array.from({ length: 40 }, () =>
    queue.enqueue('00000000-0000-4000-8000-000000000000').catch((e: Error) => e),
  );
  assert.equal(connection.listenerCount('ready'), before + 1);
  const errors = await within('40 calls', Promise.all(calls));
  assert.ok(errors.every((e) => e instanceof Error && /^Redis is not reachable/.test(e.message)));
});
