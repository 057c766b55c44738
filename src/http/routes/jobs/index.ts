/** Jobs: submit, list, read, cancel, delete, metrics, status history. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { JobService } from '../../../services/jobs/job.service.js';
import { Described, errors, JSON_BODY_ERRORS } from '../../schemas.js';
import { jobView } from '../../views.js';
import {
  CreateJobBody,
  IdempotencyHeaders,
  JobEvents,
  JobList,
  JobMetrics,
  JobParams,
  JobResource,
  ListJobsQuery,
  MetricsQuery,
} from './schemas.js';
import { Type } from '@sinclair/typebox';

const tags = ['jobs'];
const security = [{ bearerAuth: [] }];

const jobsRoutes: FastifyPluginAsyncTypebox<{ jobs: JobService }> = async (app, { jobs }) => {
  app.post(
    '/v1/jobs',
    {
      schema: {
        tags,
        security,
        operationId: 'createJob',
        summary: 'Submit a job',
        description:
          'Validates the spec, stores the job and queues it. With an Idempotency-Key header a repeated request returns the job created by the first one (200) instead of a new job.',
        headers: IdempotencyHeaders,
        body: CreateJobBody,
        response: {
          201: Described(Type.Ref(JobResource), 'the job, stored and queued'),
          200: Described(
            Type.Ref(JobResource),
            'the job the first request with this Idempotency-Key created',
          ),
          ...errors([
            'INVALID_SPEC',
            'INVALID_REQUEST',
            ...JSON_BODY_ERRORS,
            'IDEMPOTENCY_KEY_REUSED',
            'CONTINUE_FROM_NOT_SUCCEEDED',
            'CONTINUE_FROM_CHECKPOINT_REMOVED',
            'TOO_MANY_ACTIVE_JOBS',
            'QUEUE_UNAVAILABLE',
          ]),
        },
      },
    },
    async (request, reply) => {
      const { job, created } = await jobs.submit(request.tenant.id, {
        body: request.body,
        idempotencyKey: request.headers['idempotency-key'],
      });
      return reply
        .code(created ? 201 : 200)
        .header('location', `/v1/jobs/${job.id}`)
        .send(jobView(job));
    },
  );

  app.get(
    '/v1/jobs',
    {
      schema: {
        tags,
        security,
        operationId: 'listJobs',
        summary: 'List jobs, newest first',
        description:
          'One page of your jobs, newest first, optionally only those of one status. Pass `nextCursor` as `cursor` for the next page.',
        querystring: ListJobsQuery,
        response: {
          200: Described(JobList, 'a page of jobs'),
          ...errors(['INVALID_REQUEST', 'INVALID_CURSOR']),
        },
      },
    },
    async (request) => {
      const page = await jobs.list(request.tenant.id, request.query);
      return { items: page.items.map(jobView), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/jobs/:id',
    {
      schema: {
        tags,
        security,
        operationId: 'getJob',
        summary: 'Get a job: status, progress, backend, error',
        description:
          'The job as it is now: status, progress with an ETA, the backend that trains it, the error of a failed job, summary results and links to its metrics, events and per-task downloads. Poll it, or follow `links.stream`.',
        params: JobParams,
        response: {
          200: Described(Type.Ref(JobResource), 'the job'),
          ...errors(['INVALID_REQUEST', 'JOB_NOT_FOUND']),
        },
      },
    },
    async (request) => jobView(await jobs.get(request.tenant.id, request.params.id)),
  );

  app.post(
    '/v1/jobs/:id/cancel',
    {
      schema: {
        tags,
        security,
        operationId: 'cancelJob',
        summary: 'Cancel a queued or running job',
        description:
          'Takes effect within about a second, also in the middle of a task. Cancelling a cancelled job is a no-op.',
        params: JobParams,
        response: {
          200: Described(Type.Ref(JobResource), 'the job, cancelled'),
          ...errors(['INVALID_REQUEST', 'JOB_NOT_FOUND', 'JOB_NOT_CANCELLABLE']),
        },
      },
    },
    async (request) => jobView(await jobs.cancel(request.tenant.id, request.params.id)),
  );

  app.delete(
    '/v1/jobs/:id',
    {
      schema: {
        tags,
        security,
        operationId: 'deleteJob',
        summary: 'Delete a job and everything stored for it',
        description:
          'A queued or running job is cancelled first (a worker training it stops within about a second and stores nothing more). ' +
          'Then the job, its status history, results, curves, checkpoint, masks and models are removed, and the answer is 204: ' +
          'nothing of it can be read any more (Postgres reuses the space after its next vacuum). A job that continues this one ' +
          "(continueFrom) keeps what it took over and goes on as before. Unknown ids, jobs already deleted and other tenants' jobs: 404.",
        params: JobParams,
        response: {
          204: Type.Null({ description: 'deleted' }),
          ...errors(['INVALID_REQUEST', 'JOB_NOT_FOUND']),
        },
      },
    },
    async (request, reply) => {
      await jobs.delete(request.tenant.id, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/jobs/:id/metrics',
    {
      schema: {
        tags,
        security,
        operationId: 'getJobMetrics',
        summary:
          'Accuracy matrix, average accuracy, BWT, forgetting, durations and a page of a training curve',
        description:
          'The results so far (complete once the job has succeeded) and one page of the loss or validation curve, optionally of one task; `curve.nextCursor` gives the next page.',
        params: JobParams,
        querystring: MetricsQuery,
        response: {
          200: Described(JobMetrics, 'the results so far and a page of the curve'),
          ...errors(['INVALID_REQUEST', 'JOB_NOT_FOUND', 'INVALID_CURSOR']),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const job = await jobs.get(request.tenant.id, id);
      const m = await jobs.metrics(request.tenant.id, id, request.query);
      return { jobId: id, status: job.status, ...m };
    },
  );

  app.get(
    '/v1/jobs/:id/events',
    {
      schema: {
        tags,
        security,
        operationId: 'listJobEvents',
        summary: 'Status history of a job',
        description:
          'Every status the job went through, oldest first, with the reason (as one JSON page; `GET /v1/jobs/{id}/stream` streams every event live).',
        params: JobParams,
        response: {
          200: Described(JobEvents, 'the status history, oldest first'),
          ...errors(['INVALID_REQUEST', 'JOB_NOT_FOUND']),
        },
      },
    },
    async (request) => {
      const items = await jobs.events(request.tenant.id, request.params.id);
      return { items: items.map((e) => ({ ...e, at: e.at.toISOString() })) };
    },
  );
};

export default jobsRoutes;
