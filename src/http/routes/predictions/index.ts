/** Predictions from a job's trained task models, with or without a task id. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { PredictionService } from '../../../services/predictions/prediction.service.js';
import { Described, errors, JSON_BODY_ERRORS } from '../../schemas.js';
import { validatorCompiler } from '../../validation.js';
import {
  PREDICT_BODY_LIMIT,
  PredictBody,
  PredictParams,
  PredictQuery,
  PredictResponse,
} from './schemas.js';

/** Lets an image (a Buffer) through and validates anything else with `validate`. */
function bodyValidator(validate: (data: unknown) => boolean) {
  const check = (data: unknown): boolean => (Buffer.isBuffer(data) ? true : validate(data));
  return Object.defineProperty(check, 'errors', {
    get: () => (validate as { errors?: unknown }).errors,
  });
}

/** Image bodies (one PNG or JPEG file) are taken as bytes; everything else is the JSON form. */
const IMAGE_TYPES = ['image/png', 'image/jpeg'];

const predictionsRoutes: FastifyPluginAsyncTypebox<{ predictions: PredictionService }> = async (
  app,
  { predictions },
) => {
  app.addContentTypeParser(
    IMAGE_TYPES,
    { parseAs: 'buffer', bodyLimit: PREDICT_BODY_LIMIT },
    (_request, body, done) => done(null, body),
  );

  app.post(
    '/v1/jobs/:id/predict',
    {
      bodyLimit: PREDICT_BODY_LIMIT,
      schema: {
        tags: ['predictions'],
        security: [{ bearerAuth: [] }],
        operationId: 'predict',
        summary: 'Predict with the trained task models',
        description:
          "With `task`: that task's class probabilities. Without: per input, the task whose output has the lowest softmax entropy " +
          "(HyperMask task inference), its class, probabilities and every task's entropy. Uses the tasks trained so far; the answer equals " +
          "what the downloaded models give. Runs off the API's event loop, with models cached in memory. " +
          'For a job on images, the body may instead be one PNG or JPEG file (Content-Type image/png or image/jpeg) of the size the models take, with ?task= to choose the task.',
        params: PredictParams,
        querystring: PredictQuery,
        body: PredictBody,
        response: {
          200: Described(PredictResponse, 'the predictions, one per input'),
          ...errors([
            'INVALID_SPEC',
            'INVALID_REQUEST',
            'INVALID_INPUT',
            ...JSON_BODY_ERRORS,
            'JOB_NOT_FOUND',
            'TASK_NOT_FOUND',
            'ARTIFACT_NOT_READY',
            'MODEL_NOT_AVAILABLE',
          ]),
        },
      },
      // An image body is bytes, not a value for the JSON schema; the query and the JSON form are validated as usual.
      validatorCompiler: (route) =>
        route.httpPart === 'body'
          ? bodyValidator(validatorCompiler(route) as (data: unknown) => boolean)
          : validatorCompiler(route),
    },
    async (request) => {
      const { id } = request.params;
      const body = request.body as unknown;
      const out = Buffer.isBuffer(body)
        ? await predictions.predictImage(request.tenant.id, id, {
            image: body,
            task: request.query.task,
          })
        : await predictions.predict(request.tenant.id, id, request.body);
      return { jobId: id, ...out };
    },
  );
};

export default predictionsRoutes;
