/** Liveness and readiness (database and Redis reachable). No authentication. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

export type ReadinessChecks = Record<string, () => Promise<void>>;

const Health = Type.Object({ status: Type.Literal('ok') });
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not ready')]),
  checks: Type.Record(
    Type.String(),
    Type.Object({
      ok: Type.Boolean(),
      // Anyone can call /readyz: the driver's message (hosts, ports) goes to the log only.
      error: Type.Optional(
        Type.Union([Type.Literal('unreachable'), Type.Literal('timed out')], {
          description: 'details are in the API log',
        }),
      ),
    }),
  ),
});

class CheckTimeout extends Error {}

const healthRoutes: FastifyPluginAsyncTypebox<{
  checks: ReadinessChecks;
  timeoutMs?: number;
}> = async (app, { checks, timeoutMs = 2000 }) => {
  app.get(
    '/healthz',
    { schema: { tags: ['health'], summary: 'The process is up', response: { 200: Health } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Database and Redis are reachable',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (request, reply) => {
      const results = await Promise.all(
        Object.entries(checks).map(async ([name, check]) => {
          let timer: NodeJS.Timeout | undefined;
          try {
            await Promise.race([
              check(),
              new Promise(
                (_, reject) =>
                  (timer = setTimeout(
                    () => reject(new CheckTimeout(`no answer within ${timeoutMs} ms`)),
                    timeoutMs,
                  )),
              ),
            ]);
            return [name, { ok: true }] as const;
          } catch (err) {
            request.log.warn({ err, check: name }, `readiness check "${name}" failed`);
            return [
              name,
              {
                ok: false,
                error:
                  err instanceof CheckTimeout ? ('timed out' as const) : ('unreachable' as const),
              },
            ] as const;
          } finally {
            clearTimeout(timer);
          }
        }),
      );
      const ok = results.every(([, r]) => r.ok);
      return reply.code(ok ? 200 : 503).send({
        status: ok ? 'ready' : 'not ready',
        checks: Object.fromEntries<{ ok: boolean }>(results),
      });
    },
  );
};

export default healthRoutes;
