import { Type } from '@sinclair/typebox';
import { MAX_KEY_NAME } from '../../../services/auth/api-key.service.js';
import { Nullable, Uuid } from '../../schemas.js';

export const ApiKeyResource = Type.Object(
  {
    id: Uuid,
    name: Nullable(Type.String({ description: 'what the key is for' })),
    prefix: Type.String({
      description: 'first characters of the key, to tell keys apart (not secret)',
    }),
    createdAt: Type.String({ format: 'date-time' }),
    lastUsedAt: Nullable(
      Type.String({ format: 'date-time', description: 'last request with the key, to the minute' }),
    ),
    revokedAt: Nullable(
      Type.String({
        format: 'date-time',
        description: 'set once revoked: the key no longer authenticates',
      }),
    ),
  },
  {
    $id: 'ApiKey',
    description: 'an API key of your tenant (the key itself is shown only when created)',
  },
);

export const CreatedApiKey = Type.Composite(
  [
    Type.Omit(ApiKeyResource, ['$id'] as never),
    Type.Object({
      key: Type.String({ description: 'the key: shown this once, only its SHA-256 is stored' }),
    }),
  ],
  { description: 'the new key' },
);

export const CreateKeyBody = Type.Object(
  {
    name: Type.Optional(
      Type.String({ minLength: 1, maxLength: MAX_KEY_NAME, description: 'what the key is for' }),
    ),
  },
  { additionalProperties: false },
);

export const KeyParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const KeyList = Type.Object({ items: Type.Array(Type.Ref(ApiKeyResource)) });
