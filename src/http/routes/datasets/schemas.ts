import { Type, type Static } from '@sinclair/typebox';
import {
  DATASET_FORMATS,
  DEFAULT_LABEL_COLUMN,
  DEFAULT_TEST_FRACTION,
  MAX_CLASSES,
} from '../../../services/datasets/dataset.types.js';
import { Nullable, Uuid, WithDefault } from '../../schemas.js';

export const UploadQuery = Type.Object(
  {
    name: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'a label for the data set' }),
    ),
    format: Type.Optional(
      Type.Union(
        DATASET_FORMATS.map((f) => Type.Literal(f)),
        { description: 'the format you expect; the content decides, and a mismatch is refused' },
      ),
    ),
    labelColumn: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: `CSV: the label column (default "${DEFAULT_LABEL_COLUMN}")`,
      }),
    ),
    testFraction: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 0.9,
        description: `share of each class held out as test data when the upload has no test split (default ${DEFAULT_TEST_FRACTION})`,
      }),
    ),
    seed: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 2 ** 31 - 1,
        description: 'seed of that held-out draw (default 0)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type UploadQuery = Static<typeof UploadQuery>;

export const DatasetParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const ListDatasetsQuery = Type.Object(
  {
    limit: WithDefault(
      Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'page size' }),
    ),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'nextCursor of the previous page' }),
    ),
  },
  { additionalProperties: false },
);
export type ListDatasetsQuery = Static<typeof ListDatasetsQuery>;

const perClass = (description: string) => Type.Array(Type.Integer({ minimum: 0 }), { description });

export const DatasetResource = Type.Object(
  {
    id: Uuid,
    name: Nullable(Type.String()),
    format: Type.Union(DATASET_FORMATS.map((f) => Type.Literal(f))),
    status: Type.Literal('ready', { description: 'validated and usable by jobs' }),
    sha256: Type.String({ description: 'SHA-256 (hex) of the uploaded file' }),
    sizeBytes: Type.Integer({ description: 'size of the uploaded file' }),
    inputShape: Type.Array(Type.Integer(), {
      description:
        'one sample: [height, width, channels] for images, [features] for CSV, x.shape[1:] for arrays',
    }),
    dtype: Type.Union([Type.Literal('uint8'), Type.Literal('float32')], {
      description: 'uint8: pixels 0-255; float32: values as uploaded',
    }),
    classNames: Type.Array(Type.String(), {
      description: `class k's name (2 to ${MAX_CLASSES} classes)`,
    }),
    counts: Type.Object({
      train: perClass('training samples of each class, in classNames order'),
      test: perClass('test samples of each class, in classNames order'),
    }),
    samples: Type.Object(
      { train: Type.Integer(), test: Type.Integer() },
      { description: 'totals per split' },
    ),
    options: Type.Object(
      { labelColumn: Type.String(), testFraction: Type.Number(), seed: Type.Integer() },
      {
        description:
          'how the file was read (labelColumn applies to CSV, testFraction and seed to uploads without a test split)',
      },
    ),
    createdAt: Type.String({ format: 'date-time' }),
    links: Type.Object({ self: Type.String() }),
  },
  { $id: 'Dataset' },
);
export type DatasetResource = Static<typeof DatasetResource>;

export const DatasetList = Type.Object({
  items: Type.Array(Type.Ref(DatasetResource)),
  nextCursor: Nullable(
    Type.String({ description: 'pass as ?cursor= for the next page; null on the last page' }),
  ),
});

/** The upload itself: the file's bytes as the request body. */
export const UploadBody = Type.Unsafe<unknown>({
  type: 'string',
  format: 'binary',
  description: 'the file, as is (not multipart)',
});
