/** API entry point (`npm run start:api`): loads config, builds the app, listens, closes gracefully. */
import closeWithGrace from 'close-with-grace';
import { loadEnv } from '../config/env.js';
import { buildApp } from './app.js';
import { createApiContext } from './context.js';
import { every } from './periodic.js';

const config = loadEnv();
const ctx = createApiContext(config, (err) =>
  app.log.warn({ err }, 'background error (the Redis connection, or recording an API key use)'),
);
const app = await buildApp({ ...ctx.deps, logger: { level: config.LOG_LEVEL } });
app.server.requestTimeout = config.REQUEST_TIMEOUT_MS;
app.server.keepAliveTimeout = 65_000;

const stops: (() => void)[] = [];
closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an error');
  else app.log.info(`${signal}: closing`);
  for (const stop of stops) stop();
  await app.close();
  await ctx.close();
});

await app.listen({ port: config.PORT, host: config.HOST });
ctx.warm();

// Jobs the queue lost (Redis restarted without its append-only file) go back on it; jobs it gave
// up on while no worker was left to say so are failed.
if (config.RECONCILE_INTERVAL_MS > 0) {
  stops.push(
    every(
      config.RECONCILE_INTERVAL_MS,
      async () => {
        const requeued = await ctx.deps.jobs.reconcile(new Date(), config.RECONCILE_GRACE_MS);
        if (requeued.length)
          app.log.warn(
            { jobs: requeued },
            `re-queued ${requeued.length} job(s) missing from the queue`,
          );
      },
      (err) => app.log.warn({ err }, 'reconcile failed; next try in RECONCILE_INTERVAL_MS'),
    ),
  );
}

// Checkpoints of jobs finished long ago (results and downloads stay).
const retentionDays = config.RETENTION_CHECKPOINT_DAYS;
if (retentionDays !== undefined) {
  stops.push(
    every(
      config.RETENTION_INTERVAL_MS,
      async () => {
        const removed = await ctx.deps.jobs.removeExpiredCheckpoints(new Date(), retentionDays);
        if (removed.length)
          app.log.info(
            { jobs: removed },
            `removed the checkpoints of ${removed.length} job(s) finished over ${retentionDays} days ago`,
          );
      },
      (err) =>
        app.log.warn({ err }, 'checkpoint retention failed; next try in RETENTION_INTERVAL_MS'),
    ),
  );
}
