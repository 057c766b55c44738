/**
 * The hand-written migrations (see DEVELOPERS.md) must produce exactly the database that
 * prisma/schema.prisma describes, and the runner must keep Prisma's bookkeeping.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createPrismaClient, type Db } from '../../src/infra/prisma/client.js';
import { dropSchema, migrate } from '../../src/infra/prisma/migrator.js';
import { ROOT } from '../helpers/service.js';

const URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const DIR = path.join(ROOT, 'prisma', 'migrations');

interface Field {
  name: string;
  column: string;
  type: string;
  optional: boolean;
  list: boolean;
  uuid: boolean;
  /** @db.Json: json rather than Prisma's default jsonb. */
  json: boolean;
}
interface Model {
  name: string;
  table: string;
  fields: Field[];
  uniques: string[][];
}

/** Just enough of a schema.prisma reader for the constructs this schema uses. */
function parseSchema(text: string): { models: Model[]; enums: Record<string, string[]> } {
  const models: Model[] = [];
  const enums: Record<string, string[]> = {};
  const blocks = text.matchAll(/^(model|enum) (\w+) \{([\s\S]*?)^\}/gm);
  const blockList = [...blocks];
  const enumNames = new Set(blockList.filter((b) => b[1] === 'enum').map((b) => b[2]));
  const modelNames = new Set(blockList.filter((b) => b[1] === 'model').map((b) => b[2]));
  for (const [, kind, name, body] of blockList) {
    const lines = body.split('\n').map((l) => l.replace(/\/\/.*$/, '').trim()).filter(Boolean);
    if (kind === 'enum') {
      enums[name] = lines;
      continue;
    }
    const model: Model = { name, table: name, fields: [], uniques: [] };
    for (const line of lines) {
      if (line.startsWith('@@map')) model.table = /"(.+)"/.exec(line)![1];
      else if (line.startsWith('@@unique')) model.uniques.push(/\[(.+?)\]/.exec(line)![1].split(',').map((s) => s.trim()));
      else if (!line.startsWith('@@')) {
        const [fname, ftype] = line.split(/\s+/);
        const base = ftype.replace(/[?\[\]]/g, '');
        if (modelNames.has(base)) continue; // relation field
        model.fields.push({
          name: fname,
          column: /@map\("(.+?)"\)/.exec(line)?.[1] ?? fname,
          type: enumNames.has(base) ? `enum:${base}` : base,
          optional: ftype.endsWith('?'),
          list: ftype.endsWith('[]'),
          uuid: line.includes('@db.Uuid'),
          json: line.includes('@db.Json'),
        });
        if (/@unique\b/.test(line)) model.uniques.push([fname]);
      }
    }
    models.push(model);
  }
  return { models, enums };
}

const PG_TYPE: Record<string, string> = {
  String: 'text',
  Int: 'integer',
  BigInt: 'bigint',
  Float: 'double precision',
  DateTime: 'timestamp without time zone',
  Json: 'jsonb',
  Bytes: 'bytea',
  Boolean: 'boolean',
};

describe('migrations', () => {
  const schema = `test_migrations_${Date.now()}`;
  let client: pg.Client;
  let db: Db;
  let parsed: ReturnType<typeof parseSchema>;

  before(async () => {
    parsed = parseSchema(await readFile(path.join(ROOT, 'prisma', 'schema.prisma'), 'utf8'));
    client = new pg.Client({ connectionString: URL });
    await client.connect();
  });
  after(async () => {
    await db?.$disconnect();
    await client?.end();
    await dropSchema(URL, schema);
  });

  it('apply once, in order, and are recorded like prisma migrate deploy records them', async () => {
    const first = await migrate({ url: URL, schema, dir: DIR });
    assert.ok(first.applied.length >= 1);
    const again = await migrate({ url: URL, schema, dir: DIR });
    assert.deepEqual(again.applied, []);
    assert.deepEqual(again.alreadyApplied, first.applied);
    const { rows } = await client.query(`SELECT * FROM "${schema}"."_prisma_migrations" ORDER BY started_at`);
    assert.deepEqual(rows.map((r) => r.migration_name), first.applied);
    for (const r of rows) {
      const sql = await readFile(path.join(DIR, r.migration_name, 'migration.sql'));
      assert.equal(r.checksum, createHash('sha256').update(sql).digest('hex'));
      assert.match(r.id, /^[0-9a-f-]{36}$/);
      assert.ok(r.finished_at instanceof Date);
      assert.equal(r.rolled_back_at, null);
      assert.equal(r.applied_steps_count, 1);
    }
    const lock = await readFile(path.join(DIR, 'migration_lock.toml'), 'utf8');
    assert.match(lock, /provider = "postgresql"/);
  });

  it('create every table and column of schema.prisma with the right type and nullability', async () => {
    const { rows } = await client.query(
      `SELECT table_name, column_name, data_type, udt_name, is_nullable FROM information_schema.columns WHERE table_schema = $1`,
      [schema],
    );
    const tables = new Set(rows.map((r) => r.table_name));
    assert.deepEqual([...tables].sort(), [...parsed.models.map((m) => m.table), '_prisma_migrations'].sort());
    for (const m of parsed.models) {
      const cols = rows.filter((r) => r.table_name === m.table);
      assert.deepEqual(cols.map((c) => c.column_name).sort(), m.fields.map((f) => f.column).sort(), `columns of ${m.table}`);
      for (const f of m.fields) {
        const c = cols.find((r) => r.column_name === f.column)!;
        const where = `${m.table}.${f.column}`;
        if (f.list) {
          assert.equal(c.data_type, 'ARRAY', where);
          assert.equal(c.is_nullable, 'YES', `${where}: Prisma creates scalar lists nullable`);
        } else {
          if (f.type.startsWith('enum:')) assert.equal(c.udt_name, f.type.slice(5), where);
          else assert.equal(c.data_type, f.uuid ? 'uuid' : f.json ? 'json' : PG_TYPE[f.type], where);
          assert.equal(c.is_nullable, f.optional ? 'YES' : 'NO', where);
        }
      }
    }
  });

  it('create the enums and unique constraints the client relies on', async () => {
    for (const [name, values] of Object.entries(parsed.enums)) {
      const { rows } = await client.query(
        `SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typname = $1 AND n.nspname = $2 ORDER BY e.enumsortorder`,
        [name, schema],
      );
      assert.deepEqual(rows.map((r) => r.enumlabel), values, name);
    }
    const { rows: idx } = await client.query(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1`, [schema]);
    for (const m of parsed.models) {
      for (const u of m.uniques) {
        const cols = u.map((f) => m.fields.find((x) => x.name === f)!.column);
        const name = `${m.table}_${cols.join('_')}_key`;
        const found = idx.find((i) => i.indexname === name);
        assert.ok(found && /UNIQUE/.test(found.indexdef), `unique index ${name}`);
      }
    }
  });

  it('let the generated client write and read every model', async () => {
    db = createPrismaClient({ url: URL, schema, poolSize: 1 });
    const tenant = await db.tenant.create({ data: { name: 't' } });
    await db.apiKey.create({ data: { tenantId: tenant.id, prefix: 'rk_x', hash: 'h' } });
    await db.webhook.create({ data: { id: randomUUID(), tenantId: tenant.id, url: 'https://example.com/hook', events: ['job.status'], secret: 'whsec_AA==' } });
    const job = await db.job.create({ data: { tenantId: tenant.id, spec: { a: 1 }, tasksTotal: 2, iterationsPerTask: 3, metadata: { k: 'v' }, idempotencyKey: 'i' } });
    await db.jobEvent.create({ data: { jobId: job.id, status: 'queued' } });
    await db.taskResult.create({ data: { jobId: job.id, task: 0, accuracies: [0.5, 0.25], durationMs: 1.5, msPerIteration: 2 } });
    await db.metricPoint.createMany({ data: [{ jobId: job.id, kind: 'loss', task: 0, iteration: 0, value: 1, taskLoss: 0.5 }, { jobId: job.id, kind: 'validation', task: 0, iteration: 0, value: 0.7 }] });
    await db.checkpoint.create({ data: { jobId: job.id, completedTasks: 1, data: new Uint8Array([1, 2, 3]) } });
    await db.taskEmbedding.create({ data: { jobId: job.id, task: 0, values: [0.125, -1] } });
    await db.taskArtifact.create({ data: { jobId: job.id, task: 0, mask: null, modelJson: { m: 1 }, weights: new Uint8Array([4]), weightsFileName: 'weights.bin' } });
    const full = await db.job.findUniqueOrThrow({
      where: { id: job.id },
      include: { tenant: { include: { apiKeys: true } }, events: true, taskResults: true, metricPoints: true, checkpoint: true, embeddings: true, artifacts: true, streamEvents: true },
    });
    assert.equal(full.tenant.apiKeys.length, 1);
    assert.deepEqual(full.taskResults[0].accuracies, [0.5, 0.25]);
    assert.equal(full.metricPoints.length, 2);
    assert.deepEqual([...full.checkpoint!.data], [1, 2, 3]);
    assert.deepEqual(full.embeddings[0].values, [0.125, -1]);
    assert.equal(full.artifacts[0].mask, null);
    assert.equal(full.status, 'queued');
    // Written by triggers: the status event, the task result and the two points (see job-stream-log.test.ts).
    assert.deepEqual(full.streamEvents.map((e) => e.seq), [1, 2, 3, 4]);
    assert.equal(full.streamSeq, 4);
    const [delivery] = await db.webhookDelivery.findMany({ include: { webhook: true } });
    assert.deepEqual([delivery.eventSeq, delivery.eventType, delivery.status, (delivery.payload as { type: string }).type], [1, 'job.status', 'pending', 'job.status']);
    await assert.rejects(db.job.create({ data: { tenantId: tenant.id, spec: {}, tasksTotal: 1, iterationsPerTask: 1, idempotencyKey: 'i' } }), /Unique constraint/);
    await db.tenant.delete({ where: { id: tenant.id } });
    assert.equal(await db.taskArtifact.count(), 0, 'deleting a tenant cascades');
    assert.equal(await db.webhookDelivery.count(), 0);
  });
});
