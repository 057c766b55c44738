/**
 * Per-task downloads: the HyperMask mask, a TF.js LayersModel (model.json + weights) and the
 * FeCAM statistics. Bytes are
 * streamed from the blob store with their Content-Length, so the API never holds a whole file; a
 * read that fails its integrity check breaks the response off, which the length makes visible.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { FECAM_FORMAT, MASK_FORMAT } from '../../../core/index.js';
import type { JobService } from '../../../services/jobs/job.service.js';
import type { StoredBytes } from '../../../services/ports.js';
import { errors, type ErrorCode } from '../../schemas.js';
import { Binary, ModelJson, TaskParams } from './schemas.js';

const tags = ['artifacts'];
const security = [{ bearerAuth: [] }];
/** The bytes, as they are sent: application/octet-stream (a JSON schema alone would document JSON). */
const bytes = (description: string) => ({
  description,
  content: { 'application/octet-stream': { schema: Binary } },
});
const TASK_ERRORS: ErrorCode[] = [
  'INVALID_REQUEST',
  'JOB_NOT_FOUND',
  'TASK_NOT_FOUND',
  'ARTIFACT_NOT_READY',
];
/** Name of the weights route beside model.json; tf.loadLayersModel resolves manifest paths against model.json's URL. */
export const WEIGHTS_ROUTE = 'weights.bin';

const sendBytes = (reply: FastifyReply, bytes: StoredBytes) =>
  reply
    .type('application/octet-stream')
    .header('content-length', bytes.size)
    .send(Readable.from(bytes.read()));

const tasksRoutes: FastifyPluginAsyncTypebox<{ jobs: JobService }> = async (app, { jobs }) => {
  app.get(
    '/v1/jobs/:id/tasks/:task/mask',
    {
      schema: {
        tags,
        security,
        operationId: 'downloadTaskMask',
        summary: `The task's mask: a safetensors file (metadata format "${MASK_FORMAT}"), one F32 tensor per masked target tensor`,
        description:
          "HyperMask jobs only. Tensors are named like the target's parameters (`dense_1/kernel` [in, out], ...); the task's weights are θ ⊙ mask. While the job runs, a task's mask is the one at the end of that task; a succeeded job's masks are final.",
        params: TaskParams,
        response: {
          200: bytes('the mask (safetensors)'),
          ...errors([...TASK_ERRORS, 'MASK_NOT_AVAILABLE']),
        },
      },
    },
    async (request, reply) => {
      const { id, task } = request.params;
      const mask = await jobs.mask(request.tenant.id, id, task);
      return sendBytes(
        reply.header(
          'content-disposition',
          `attachment; filename="job-${id}-task-${task}-mask.safetensors"`,
        ),
        mask,
      );
    },
  );

  app.get(
    '/v1/jobs/:id/tasks/:task/fecam',
    {
      schema: {
        tags,
        security,
        operationId: 'downloadTaskFecam',
        summary: `The task's FeCAM statistics: a safetensors file (metadata format "${FECAM_FORMAT}"), per class c the F32 tensors class_c/mean [d], class_c/precision (the inverse of the normalised, shrunk covariance, upper triangle row by row, [d (d + 1) / 2]) and class_c/count, and distance_scale [1] (the mean over the task's training samples of their smallest distance to its prototypes; task inference divides the task's distances by it)`,
        description:
          'Kept when the spec\'s evaluation.taskInference is "fecam" or "both"; predictions without a task id use them. d is the width of the target\'s penultimate layer (the features the task model computes before its output layer).',
        params: TaskParams,
        response: {
          200: bytes('the FeCAM statistics (safetensors)'),
          ...errors([...TASK_ERRORS, 'FECAM_NOT_AVAILABLE']),
        },
      },
    },
    async (request, reply) => {
      const { id, task } = request.params;
      const fecam = await jobs.fecam(request.tenant.id, id, task);
      return sendBytes(
        reply.header(
          'content-disposition',
          `attachment; filename="job-${id}-task-${task}-fecam.safetensors"`,
        ),
        fecam,
      );
    },
  );

  app.get(
    '/v1/jobs/:id/tasks/:task/model/model.json',
    {
      schema: {
        tags,
        security,
        operationId: 'downloadTaskModel',
        summary: 'The task model as a TF.js LayersModel (model.json)',
        description:
          "Its weights manifest names `weights.bin` beside it. Load it with tf.loadLayersModel('<base>/v1/jobs/<id>/tasks/<t>/model/model.json', { requestInit: { headers: { Authorization: 'Bearer <key>' } } })",
        params: TaskParams,
        response: { 200: ModelJson, ...errors([...TASK_ERRORS, 'MODEL_NOT_AVAILABLE']) },
      },
    },
    async (request) => {
      const { id, task } = request.params;
      const modelJson = await jobs.modelJson(request.tenant.id, id, task);
      const manifest = (
        modelJson.weightsManifest as { paths: string[]; weights: Record<string, unknown>[] }[]
      ).map((group) => ({
        ...group,
        paths: [WEIGHTS_ROUTE],
      }));
      return { ...modelJson, weightsManifest: manifest } as never;
    },
  );

  app.get(
    `/v1/jobs/:id/tasks/:task/model/${WEIGHTS_ROUTE}`,
    {
      schema: {
        tags,
        security,
        operationId: 'downloadTaskModelWeights',
        summary: 'Weights of the task model (float32, little-endian, manifest order)',
        description:
          "The weights file model.json's manifest points at; tf.loadLayersModel fetches it by itself.",
        params: TaskParams,
        response: {
          200: bytes('the weights (float32, little-endian, in manifest order)'),
          ...errors([...TASK_ERRORS, 'MODEL_NOT_AVAILABLE']),
        },
      },
    },
    async (request, reply) => {
      const { id, task } = request.params;
      const { weights } = await jobs.model(request.tenant.id, id, task);
      return sendBytes(reply, weights);
    },
  );
};

export default tasksRoutes;
