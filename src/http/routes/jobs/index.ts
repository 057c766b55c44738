/** Jobs: submit, list, read, cancel, delete, metrics, status history. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { JobService } from '../../../services/jobs/job.service.js';
import { errors } from '../../schemas.js';
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
        summary: 'Submit a job',
        description:
          'Validates the spec, stores the job and queues it. With an Idempotency-Key header a repeated request returns the job created by the first one (200) instead of a new job.',
        headers: IdempotencyHeaders,
        body: CreateJobBody,
        response: {
          201: Type.Ref(JobResource),
          200: Type.Ref(JobResource),
          ...errors(400, 401, 409, 413, 415, 503),
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
        summary: 'List jobs, newest first',
        querystring: ListJobsQuery,
        response: { 200: JobList, ...errors(400, 401) },
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
        summary: 'Get a job: status, progress, backend, error',
        params: JobParams,
        response: { 200: Type.Ref(JobResource), ...errors(400, 401, 404) },
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
        summary: 'Cancel a queued or running job',
        description:
          'Takes effect within about a second, also in the middle of a task. Cancelling a cancelled job is a no-op.',
        params: JobParams,
        response: { 200: Type.Ref(JobResource), ...errors(400, 401, 404, 409) },
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
        summary: 'Delete a job and everything stored for it',
        description:
          'A queued or running job is cancelled first (a worker training it stops within about a second and stores nothing more). ' +
          'Then the job, its status history, results, curves, checkpoint, masks and models are removed, and the answer is 204: ' +
          'nothing of it can be read any more (Postgres reuses the space after its next vacuum). A job that continues this one ' +
          "(continueFrom) keeps what it took over and goes on as before. Unknown ids, jobs already deleted and other tenants' jobs: 404.",
        params: JobParams,
        response: { 204: Type.Null(), ...errors(400, 401, 404) },
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
        summary:
          'Accuracy matrix, average accuracy, BWT, forgetting, durations and a page of a training curve',
        params: JobParams,
        querystring: MetricsQuery,
        response: { 200: JobMetrics, ...errors(400, 401, 404) },
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
        summary: 'Status history of a job',
        params: JobParams,
        response: { 200: JobEvents, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const items = await jobs.events(request.tenant.id, request.params.id);
      return { items: items.map((e) => ({ ...e, at: e.at.toISOString() })) };
    },
  );
};

export default jobsRoutes;
