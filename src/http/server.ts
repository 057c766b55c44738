/** API entry point (`npm run start:api`): loads config, builds the app, listens, closes gracefully. */
import closeWithGrace from 'close-with-grace';
import { loadEnv } from '../config/env.js';
import { buildApp } from './app.js';
import { createApiContext } from './context.js';

const config = loadEnv();
const ctx = createApiContext(config, (err) => app.log.warn({ err }, 'background error (the Redis connection, or recording an API key use)'));
const app = await buildApp({ ...ctx.deps, logger: { level: config.LOG_LEVEL } });
app.server.requestTimeout = config.REQUEST_TIMEOUT_MS;
app.server.keepAliveTimeout = 65_000;

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an error');
  else app.log.info(`${signal}: closing`);
  await app.close();
  await ctx.close();
});

await app.listen({ port: config.PORT, host: config.HOST });
ctx.warm();

// Jobs the queue lost (Redis restarted without its append-only file) go back on it.
async function reconcile() {
  try {
    const requeued = await ctx.deps.jobs.reconcile(new Date(), config.RECONCILE_GRACE_MS);
    if (requeued.length) app.log.warn({ jobs: requeued }, `re-queued ${requeued.length} job(s) missing from the queue`);
  } catch (err) {
    app.log.warn({ err }, 'reconcile failed; next try in RECONCILE_INTERVAL_MS');
  }
}
if (config.RECONCILE_INTERVAL_MS > 0) {
  void reconcile();
  setInterval(reconcile, config.RECONCILE_INTERVAL_MS).unref();
}
