/** Liveness and readiness (database and Redis reachable). No authentication. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Described, errors } from '../../schemas.js';

export type ReadinessChecks = Record<string, () => Promise<void>>;

const Health = Type.Object({ status: Type.Literal('ok') });
const readiness = (description: string) =>
  Type.Object(
    {
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
    },
    { description },
  );

class CheckTimeout extends Error {}

const tags = ['health'];
/** No key: orchestrators and load balancers call these. */
const security: Record<string, string[]>[] = [];
/** A health check sends no parameters or body; what it can be refused for is the request itself. */
const transportErrors = errors(['HEADERS_TOO_LARGE'], { authenticated: false });

const healthRoutes: FastifyPluginAsyncTypebox<{
  checks: ReadinessChecks;
  timeoutMs?: number;
}> = async (app, { checks, timeoutMs = 2000 }) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags,
        security,
        operationId: 'getHealth',
        summary: 'The process is up',
        description: 'Liveness: answers 200 as long as the process serves HTTP. Needs no key.',
        response: { 200: Described(Health, 'the process is up'), ...transportErrors },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags,
        security,
        operationId: 'getReadiness',
        summary: 'Database and Redis are reachable',
        description: `Readiness: 200 when every check (database, Redis) answers within ${timeoutMs} ms, else 503 with the failed checks. Needs no key; a failure says only "unreachable" or "timed out" (the API log has the reason).`,
        response: {
          200: readiness('every check answered'),
          503: readiness('a check failed or timed out'),
          ...transportErrors,
        },
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
