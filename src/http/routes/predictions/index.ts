/** Predictions from a job's trained task models, with or without a task id. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { PredictionService } from '../../../services/predictions/prediction.service.js';
import { errors } from '../../schemas.js';
import { PREDICT_BODY_LIMIT, PredictBody, PredictParams, PredictResponse } from './schemas.js';

const predictionsRoutes: FastifyPluginAsyncTypebox<{ predictions: PredictionService }> = async (app, { predictions }) => {
  app.post(
    '/v1/jobs/:id/predict',
    {
      bodyLimit: PREDICT_BODY_LIMIT,
      schema: {
        tags: ['predictions'],
        security: [{ bearerAuth: [] }],
        summary: 'Predict with the trained task models',
        description:
          "With `task`: that task's class probabilities. Without: per input, the task whose output has the lowest softmax entropy " +
          '(HyperMask task inference), its class, probabilities and every task\'s entropy. Uses the tasks trained so far; the answer equals ' +
          "what the downloaded models give. Runs off the API's event loop, with models cached in memory.",
        params: PredictParams,
        body: PredictBody,
        response: { 200: PredictResponse, ...errors(400, 401, 404, 413) },
      },
    },
    async (request) => {
      const out = await predictions.predict(request.tenant.id, request.params.id, request.body);
      return { jobId: request.params.id, ...out };
    },
  );
};

export default predictionsRoutes;
