/**
 * `npm run db:migrate`: applies prisma/migrations to DATABASE_URL (schema from ?schema=, default
 * public), recording them in _prisma_migrations exactly as `prisma migrate deploy` would.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadEnv } from '../src/config/env.js';
import { migrate } from '../src/infra/prisma/migrator.js';

const config = loadEnv();
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'prisma', 'migrations');
const r = await migrate({
  url: config.databaseUrl,
  schema: config.databaseSchema,
  dir,
  log: (l) => console.log(l),
});
for (const m of r.modified)
  console.warn(`warning: migration ${m} was changed after it was applied`);
console.log(
  `${r.applied.length} migration(s) applied, ${r.alreadyApplied.length} already applied (schema "${config.databaseSchema}")`,
);
