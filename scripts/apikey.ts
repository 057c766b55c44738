/**
 * API keys from the command line (the API offers the same under /v1/keys for a key's own tenant):
 *   npm run apikey -- create --tenant NAME [--name WHAT] [--quiet]
 *       creates the tenant if needed and a new key, printed alone on stdout (its label on stderr,
 *       which --quiet drops); the key is shown only this once, the database keeps its SHA-256.
 *   npm run apikey -- list --tenant NAME
 *   npm run apikey -- revoke --tenant NAME --id KEY_ID
 */
import { parseArgs } from 'node:util';
import { loadEnv } from '../src/config/env.js';
import { PrismaApiKeyRepository } from '../src/infra/prisma/api-key.repository.js';
import { createPrismaClient } from '../src/infra/prisma/client.js';
import { ApiKeyService } from '../src/services/auth/api-key.service.js';
import { ServiceError } from '../src/services/errors.js';
import type { ApiKeyRecord } from '../src/services/ports.js';

const USAGE = `usage: npm run apikey -- create --tenant NAME [--name WHAT] [--quiet]
       npm run apikey -- list --tenant NAME
       npm run apikey -- revoke --tenant NAME --id KEY_ID`;
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    tenant: { type: 'string' },
    name: { type: 'string' },
    id: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
const command = positionals[0];
if (
  !['create', 'list', 'revoke'].includes(command) ||
  !values.tenant ||
  !/^[\w.@-]{1,100}$/.test(values.tenant) ||
  (command === 'revoke' && !/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(values.id ?? ''))
) {
  console.error(
    USAGE + '\n(tenant names: letters, digits, _ . @ -, at most 100; KEY_ID: the id `list` shows)',
  );
  process.exit(2);
}
const line = (k: ApiKeyRecord) =>
  [
    k.id,
    k.prefix + '...',
    k.name ?? '-',
    `created ${k.createdAt.toISOString()}`,
    `last used ${k.lastUsedAt?.toISOString() ?? 'never'}`,
    k.revokedAt ? `REVOKED ${k.revokedAt.toISOString()}` : 'active',
  ].join('  ');

const config = loadEnv();
const db = createPrismaClient({
  url: config.databaseUrl,
  schema: config.databaseSchema,
  poolSize: 1,
});
const keys = new ApiKeyService(new PrismaApiKeyRepository(db));
try {
  if (command === 'create') {
    const { tenant, key } = await keys.create(values.tenant, values.name ?? null);
    // The key alone on stdout (KEY=$(npm run --silent apikey -- create ...)); what it is on stderr.
    if (!values.quiet)
      console.error(
        `tenant ${tenant.name} (${tenant.id}); the API key below is shown once, keep it:`,
      );
    console.log(key);
  } else if (command === 'list') {
    for (const k of await keys.list(await keys.tenant(values.tenant))) console.log(line(k));
  } else {
    console.log(line(await keys.revoke(await keys.tenant(values.tenant), values.id!)));
  }
} catch (err) {
  if (!(err instanceof ServiceError)) throw err;
  console.error(err.message);
  process.exitCode = 1;
} finally {
  await db.$disconnect();
}
