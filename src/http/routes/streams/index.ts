/** A job's live events as Server-Sent Events (GET /v1/jobs/:id/stream); the logic is JobStreamService's. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiKeyService } from '../../../services/auth/api-key.service.js';
import { ServiceError } from '../../../services/errors.js';
import type { JobStreamService } from '../../../services/events/job-stream.service.js';
import { errors } from '../../schemas.js';
import { SseResponse } from '../../sse.js';
import { progressView } from '../../views.js';
import { JobParams } from '../jobs/schemas.js';
import { STREAM_DESCRIPTION, StreamHeaders, StreamQuery } from './schemas.js';

/** A client with this much unsent is dropped; it resumes from its Last-Event-ID without losing anything. */
export const MAX_BUFFERED_BYTES = 1024 ** 2;

export interface StreamRoutesOptions {
  streams: JobStreamService;
  /** Keys are checked again at every heartbeat: the streams of a revoked key end. */
  apiKeys: Pick<ApiKeyService, 'authenticate'>;
  /** Time between heartbeat comments on every open stream. */
  heartbeatMs: number;
}

const streamsRoutes: FastifyPluginAsyncTypebox<StreamRoutesOptions> = async (
  app,
  { streams, apiKeys, heartbeatMs },
) => {
  /** Open streams and the Authorization header each was opened with. */
  const open = new Map<SseResponse, string>();
  // One timer for all streams: 500 streams need no 500 timers, and a key shared by many streams is
  // looked up once per beat (the lookup is cached for API_KEY_CACHE_MS anyway).
  const heartbeat = setInterval(() => {
    const byKey = new Map<string, SseResponse[]>();
    for (const [sse, authorization] of open) {
      sse.comment('heartbeat');
      byKey.set(authorization, [...(byKey.get(authorization) ?? []), sse]);
    }
    for (const [authorization, list] of byKey) {
      apiKeys.authenticate(authorization).catch((err: unknown) => {
        // Only a refused key ends its streams; a database that does not answer is no reason to.
        if (err instanceof ServiceError && err.code === 'UNAUTHORIZED')
          list.forEach((sse) => sse.end());
      });
    }
  }, heartbeatMs).unref();
  // Open streams would otherwise keep the server from closing; clients reconnect elsewhere.
  app.addHook('preClose', async () => {
    clearInterval(heartbeat);
    open.forEach((_, sse) => sse.end());
  });

  app.get(
    '/v1/jobs/:id/stream',
    {
      // A HEAD request would hold a response open that can carry no events.
      exposeHeadRoute: false,
      schema: {
        tags: ['jobs'],
        security: [{ bearerAuth: [] }],
        operationId: 'streamJobEvents',
        summary: 'Live events of a job (Server-Sent Events), resumable with Last-Event-ID',
        description: STREAM_DESCRIPTION,
        params: JobParams,
        headers: StreamHeaders,
        querystring: StreamQuery,
        response: {
          200: {
            description: 'the event stream',
            content: { 'text/event-stream': { schema: Type.String() } },
          },
          ...errors(['INVALID_REQUEST', 'JOB_NOT_FOUND', 'INVALID_EVENT_ID']),
        },
      },
    },
    async (request, reply) => {
      const header = request.headers['last-event-id'];
      const after = header !== undefined ? Number(header) : (request.query.lastEventId ?? 0);
      const { id } = request.params;
      const stream = await streams.open(request.tenant.id, id, after);
      // From here on the response is ours: an error can no longer become an error body.
      reply.hijack();
      const sse = SseResponse.open(reply.raw, MAX_BUFFERED_BYTES);
      open.set(sse, request.headers.authorization ?? '');
      const close = () => {
        open.delete(sse);
        stream.close();
      };
      reply.raw.on('close', close);
      // The client may have gone while the stream was opening; 'close' has then been and gone.
      if (request.raw.socket.destroyed) {
        close();
        return reply;
      }
      stream.start({
        event: (e) => sse.send(e.seq, e.type, { ...e.data, at: e.at.toISOString() }),
        progress: (p) => sse.send(null, 'job.progress', { jobId: id, ...progressView(p) }),
        end: (err) => {
          if (err)
            request.log.warn(
              { err, jobId: id },
              'job stream ended early; the client resumes from its Last-Event-ID',
            );
          open.delete(sse);
          sse.end();
        },
      });
      return reply;
    },
  );
};

export default streamsRoutes;
