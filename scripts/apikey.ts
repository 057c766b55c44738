/**
 * `npm run apikey -- create --tenant NAME`: creates the tenant if needed and prints a new API key,
 * alone on stdout (a label goes to stderr; --quiet drops it). The key is shown only this once; the
 * database keeps its SHA-256.
 */
import { parseArgs } from 'node:util';
import { loadEnv } from '../src/config/env.js';
import { PrismaApiKeyRepository } from '../src/infra/prisma/api-key.repository.js';
import { createPrismaClient } from '../src/infra/prisma/client.js';
import { ApiKeyService } from '../src/services/auth/api-key.service.js';

const USAGE = 'usage: npm run apikey -- create --tenant NAME [--quiet]';
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { tenant: { type: 'string' }, quiet: { type: 'boolean', default: false } },
});
if (positionals[0] !== 'create' || !values.tenant || !/^[\w.@-]{1,100}$/.test(values.tenant)) {
  console.error(USAGE + '\n(tenant names: letters, digits, _ . @ -, at most 100)');
  process.exit(2);
}
const config = loadEnv();
const db = createPrismaClient({ url: config.databaseUrl, schema: config.databaseSchema, poolSize: 1 });
try {
  const { tenant, key } = await new ApiKeyService(new PrismaApiKeyRepository(db)).create(values.tenant);
  // The key alone on stdout (KEY=$(npm run --silent apikey -- create ...)); what it is on stderr.
  if (!values.quiet) console.error(`tenant ${tenant.name} (${tenant.id}); the API key below is shown once, keep it:`);
  console.log(key);
} finally {
  await db.$disconnect();
}
