/**
 * Datasets: upload (the file is the request body, streamed), list, read, delete. The body never
 * passes through a JSON parser or Fastify's body limit: the service streams it to scratch space
 * and enforces DATASET_MAX_UPLOAD_BYTES itself.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Readable } from 'node:stream';
import type { DatasetService } from '../../../services/datasets/dataset.service.js';
import { ServiceError } from '../../../services/errors.js';
import { Described, errors } from '../../schemas.js';
import { validatorCompiler } from '../../validation.js';
import { datasetView } from '../../views.js';
import { IdempotencyHeaders } from '../jobs/schemas.js';
import {
  DatasetList,
  DatasetParams,
  DatasetResource,
  ListDatasetsQuery,
  UploadBody,
  UploadQuery,
} from './schemas.js';

const tags = ['datasets'];
const security = [{ bearerAuth: [] }];

const datasetsRoutes: FastifyPluginAsyncTypebox<{ datasets: DatasetService }> = async (
  app,
  { datasets },
) => {
  // Every body in this scope is an upload: hand the raw stream over unread.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  app.post(
    '/v1/datasets',
    {
      schema: {
        tags,
        security,
        operationId: 'uploadDataset',
        summary: 'Upload a data set',
        description:
          'The request body is the file itself (`curl --data-binary @file.tar.gz`), streamed: an ImageFolder archive (.tar, .tar.gz or .zip of ' +
          'train/<class>/<image> and test/<class>/<image>, or <class>/<image>), NumPy .npz (x, y, optional x_test, y_test) or a tar of .npy files, ' +
          'CSV with a header and a label column, or a tar of the four MNIST IDX files. The format is detected from the content. ' +
          'The data set is validated before it is stored; 201 means it is ready for jobs. With an Idempotency-Key header a repeated request ' +
          'returns the data set created by the first one (200).',
        querystring: UploadQuery,
        headers: IdempotencyHeaders,
        consumes: ['application/octet-stream'],
        body: UploadBody,
        response: {
          201: Described(Type.Ref(DatasetResource), 'the data set, validated and stored'),
          200: Described(
            Type.Ref(DatasetResource),
            'the data set the first request with this Idempotency-Key created',
          ),
          ...errors([
            'INVALID_REQUEST',
            'INVALID_INPUT',
            'UPLOAD_INCOMPLETE',
            'IDEMPOTENCY_KEY_REUSED',
            'DATASET_TOO_LARGE',
            'UNSUPPORTED_DATASET_FORMAT',
            'INVALID_DATASET',
          ]),
        },
      },
      // The body is a stream, not a value to validate; query and headers are validated as usual.
      validatorCompiler: (route) =>
        route.httpPart === 'body' ? () => true : validatorCompiler(route),
    },
    async (request, reply) => {
      if (/^multipart\//i.test(request.headers['content-type'] ?? '')) {
        request.raw.resume();
        throw new ServiceError(
          'UNSUPPORTED_DATASET_FORMAT',
          'send the file itself as the request body, not a multipart form: curl --data-binary @FILE -H "Content-Type: application/octet-stream"',
        );
      }
      const length = request.headers['content-length'];
      const { dataset, created } = await datasets.upload(request.tenant.id, {
        body: (request.body as Readable | undefined) ?? emptyBody(),
        declaredBytes: length !== undefined && /^\d+$/.test(length) ? Number(length) : null,
        name: request.query.name ?? null,
        format: request.query.format,
        labelColumn: request.query.labelColumn,
        testFraction: request.query.testFraction,
        seed: request.query.seed,
        idempotencyKey: request.headers['idempotency-key'] ?? null,
      });
      return reply
        .code(created ? 201 : 200)
        .header('location', `/v1/datasets/${dataset.id}`)
        .send(datasetView(dataset));
    },
  );

  app.get(
    '/v1/datasets',
    {
      schema: {
        tags,
        security,
        operationId: 'listDatasets',
        summary: 'List data sets, newest first',
        description: 'One page of your uploads; pass `nextCursor` as `cursor` for the next page.',
        querystring: ListDatasetsQuery,
        response: {
          200: Described(DatasetList, 'a page of data sets'),
          ...errors(['INVALID_REQUEST', 'INVALID_CURSOR']),
        },
      },
    },
    async (request) => {
      const page = await datasets.list(request.tenant.id, request.query);
      return { items: page.items.map(datasetView), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/datasets/:id',
    {
      schema: {
        tags,
        security,
        operationId: 'getDataset',
        summary: 'Get a data set: shape, classes, sample counts',
        description:
          'Format, sample shape and type, class names and per-split sample counts of an upload.',
        params: DatasetParams,
        response: {
          200: Described(Type.Ref(DatasetResource), 'the data set'),
          ...errors(['INVALID_REQUEST', 'DATASET_NOT_FOUND']),
        },
      },
    },
    async (request) => datasetView(await datasets.get(request.tenant.id, request.params.id)),
  );

  app.delete(
    '/v1/datasets/:id',
    {
      schema: {
        tags,
        security,
        operationId: 'deleteDataset',
        summary: 'Delete a data set and its bytes',
        description: 'Refused (409 DATASET_IN_USE) while a queued or running job trains on it.',
        params: DatasetParams,
        response: {
          204: Type.Null({ description: 'deleted' }),
          ...errors(['INVALID_REQUEST', 'DATASET_NOT_FOUND', 'DATASET_IN_USE']),
        },
      },
    },
    async (request, reply) => {
      await datasets.delete(request.tenant.id, request.params.id);
      return reply.code(204).send(null);
    },
  );
};

async function* emptyBody(): AsyncGenerator<Uint8Array> {}

export default datasetsRoutes;
