import { Type } from '@sinclair/typebox';
import { LIMITS } from '../../../core/index.js';
import { Uuid } from '../../schemas.js';

export const TaskParams = Type.Object(
  {
    id: Uuid,
    task: Type.Integer({
      minimum: 0,
      maximum: LIMITS.tasks - 1,
      description: '0-based task index',
    }),
  },
  { additionalProperties: false },
);

export const Binary = Type.Unsafe<Buffer>({
  type: 'string',
  format: 'binary',
  description: 'raw bytes (application/octet-stream)',
});

export const ModelJson = Type.Object(
  {
    format: Type.String(),
    generatedBy: Type.String(),
    convertedBy: Type.Union([Type.String(), Type.Null()]),
    modelTopology: Type.Record(Type.String(), Type.Unknown()),
    weightsManifest: Type.Array(
      Type.Object({
        paths: Type.Array(Type.String()),
        weights: Type.Array(Type.Record(Type.String(), Type.Unknown())),
      }),
    ),
    userDefinedMetadata: Type.Record(Type.String(), Type.Unknown()),
  },
  {
    description:
      'TF.js LayersModel artifacts; weightsManifest paths point to weights.bin beside this file',
  },
);
