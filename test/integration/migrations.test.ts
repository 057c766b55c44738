/**
 * The hand-written migrations (see DEVELOPERS.md) must produce exactly the database that
 * prisma/schema.prisma describes, and the runner must keep Prisma's bookkeeping.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { readBlobBytes } from '../../src/infra/blobs/pg-blob-store.js';
import { createPgPool, createPrismaClient, type Db } from '../../src/infra/prisma/client.js';
import { dropSchema, migrate } from '../../src/infra/prisma/migrator.js';
import { ROOT } from '../helpers/service.js';

const URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const DIR = path.join(ROOT, 'prisma', 'migrations');
/** The migration that moved checkpoint and export bytes into the blob store. */
const MOVE_TO_BLOBS = '20261211000000_chunked_checkpoints_and_exports';

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
    const lines = body
      .split('\n')
      .map((l) => l.replace(/\/\/.*$/, '').trim())
      .filter(Boolean);
    if (kind === 'enum') {
      enums[name] = lines;
      continue;
    }
    const model: Model = { name, table: name, fields: [], uniques: [] };
    for (const line of lines) {
      if (line.startsWith('@@map')) model.table = /"(.+)"/.exec(line)![1];
      else if (line.startsWith('@@unique'))
        model.uniques.push(
          /\[(.+?)\]/
            .exec(line)![1]
            .split(',')
            .map((s) => s.trim()),
        );
      else if (!line.startsWith('@@')) {
        const [fname, ftype] = line.split(/\s+/);
        const base = ftype.replace(/[?[\]]/g, '');
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
    const { rows } = await client.query(
      `SELECT * FROM "${schema}"."_prisma_migrations" ORDER BY started_at`,
    );
    assert.deepEqual(
      rows.map((r) => r.migration_name),
      first.applied,
    );
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
    assert.deepEqual(
      [...tables].sort(),
      [...parsed.models.map((m) => m.table), '_prisma_migrations'].sort(),
    );
    for (const m of parsed.models) {
      const cols = rows.filter((r) => r.table_name === m.table);
      assert.deepEqual(
        cols.map((c) => c.column_name).sort(),
        m.fields.map((f) => f.column).sort(),
        `columns of ${m.table}`,
      );
      for (const f of m.fields) {
        const c = cols.find((r) => r.column_name === f.column)!;
        const where = `${m.table}.${f.column}`;
        if (f.list) {
          assert.equal(c.data_type, 'ARRAY', where);
          assert.equal(c.is_nullable, 'YES', `${where}: Prisma creates scalar lists nullable`);
        } else {
          if (f.type.startsWith('enum:')) assert.equal(c.udt_name, f.type.slice(5), where);
          else
            assert.equal(c.data_type, f.uuid ? 'uuid' : f.json ? 'json' : PG_TYPE[f.type], where);
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
      assert.deepEqual(
        rows.map((r) => r.enumlabel),
        values,
        name,
      );
    }
    const { rows: idx } = await client.query(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1`,
      [schema],
    );
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
    await db.webhook.create({
      data: {
        id: randomUUID(),
        tenantId: tenant.id,
        url: 'https://example.com/hook',
        events: ['job.status'],
        secret: 'whsec_AA==',
      },
    });
    const job = await db.job.create({
      data: {
        tenantId: tenant.id,
        spec: { a: 1 },
        tasksTotal: 2,
        iterationsPerTask: 3,
        metadata: { k: 'v' },
        idempotencyKey: 'i',
      },
    });
    await db.jobEvent.create({ data: { jobId: job.id, status: 'queued' } });
    await db.taskResult.create({
      data: { jobId: job.id, task: 0, accuracies: [0.5, 0.25], durationMs: 1.5, msPerIteration: 2 },
    });
    await db.metricPoint.createMany({
      data: [
        { jobId: job.id, kind: 'loss', task: 0, iteration: 0, value: 1, taskLoss: 0.5 },
        { jobId: job.id, kind: 'validation', task: 0, iteration: 0, value: 0.7 },
      ],
    });
    const blob = await db.blob.create({
      data: {
        id: randomUUID(),
        size: 3,
        sha256: 'x',
        chunks: { create: [{ seq: 0, data: new Uint8Array([1, 2, 3]) }] },
      },
    });
    await db.checkpoint.create({ data: { jobId: job.id, completedTasks: 1, blobId: blob.id } });
    await db.taskEmbedding.create({ data: { jobId: job.id, task: 0, values: [0.125, -1] } });
    await db.taskArtifact.create({
      data: {
        jobId: job.id,
        task: 0,
        maskBlobId: null,
        modelJson: { m: 1 },
        weightsBlobId: blob.id,
        weightsFileName: 'weights.bin',
      },
    });
    const full = await db.job.findUniqueOrThrow({
      where: { id: job.id },
      include: {
        tenant: { include: { apiKeys: true } },
        events: true,
        taskResults: true,
        metricPoints: true,
        checkpoint: true,
        embeddings: true,
        artifacts: true,
        streamEvents: true,
      },
    });
    assert.equal(full.tenant.apiKeys.length, 1);
    assert.deepEqual(full.taskResults[0].accuracies, [0.5, 0.25]);
    assert.equal(full.metricPoints.length, 2);
    const chunks = await db.blobChunk.findMany({ where: { blobId: full.checkpoint!.blobId } });
    assert.deepEqual([...chunks[0].data], [1, 2, 3]);
    assert.deepEqual(full.embeddings[0].values, [0.125, -1]);
    assert.equal(full.artifacts[0].maskBlobId, null);
    await assert.rejects(
      db.blob.delete({ where: { id: blob.id } }),
      /foreign key|constraint/i,
      'a blob a row points at cannot be deleted',
    );
    assert.equal(full.status, 'queued');
    // Written by triggers: the status event, the task result and the two points (see job-stream-log.test.ts).
    assert.deepEqual(
      full.streamEvents.map((e) => e.seq),
      [1, 2, 3, 4],
    );
    assert.equal(full.streamSeq, 4);
    const [delivery] = await db.webhookDelivery.findMany({ include: { webhook: true } });
    assert.deepEqual(
      [
        delivery.eventSeq,
        delivery.eventType,
        delivery.status,
        (delivery.payload as { type: string }).type,
      ],
      [1, 'job.status', 'pending', 'job.status'],
    );
    await assert.rejects(
      db.job.create({
        data: {
          tenantId: tenant.id,
          spec: {},
          tasksTotal: 1,
          iterationsPerTask: 1,
          idempotencyKey: 'i',
        },
      }),
      /Unique constraint/,
    );
    await db.tenant.delete({ where: { id: tenant.id } });
    assert.equal(await db.taskArtifact.count(), 0, 'deleting a tenant cascades');
    assert.equal(await db.webhookDelivery.count(), 0);
  });

  it('move the checkpoints and exports of an upgraded database into blobs, byte for byte', async () => {
    const upgrade = `test_migrations_upgrade_${Date.now()}`;
    const older = await mkdtemp(path.join(os.tmpdir(), 'retain-migrations-'));
    const all = await readdir(DIR, { withFileTypes: true });
    const cut = all.filter((e) => e.isDirectory() && e.name < MOVE_TO_BLOBS).map((e) => e.name);
    for (const name of cut)
      await cp(path.join(DIR, name), path.join(older, name), { recursive: true });
    const pool = createPgPool({ url: URL, schema: upgrade, poolSize: 2 });
    try {
      await migrate({ url: URL, schema: upgrade, dir: older });
      const q = (sql: string, params: unknown[] = []) => pool.query(sql, params);
      const tenant = (
        await q(`INSERT INTO tenants (id, name) VALUES (gen_random_uuid(), 'old') RETURNING id`)
      ).rows[0].id;
      const jobs: string[] = [];
      for (let i = 0; i < 2; i++) {
        jobs.push(
          (
            await q(
              `INSERT INTO jobs (id, tenant_id, spec, tasks_total, iterations_per_task, updated_at) VALUES (gen_random_uuid(), $1, '{}', 2, 1, now()) RETURNING id`,
              [tenant],
            )
          ).rows[0].id,
        );
      }
      // 2.5 MiB: three chunks, the last one short; an empty weights file: no chunk at all.
      const checkpoint = randomBytes(2.5 * 2 ** 20);
      const [mask, weights] = [randomBytes(2 ** 20), randomBytes(1000)];
      await q(
        'INSERT INTO checkpoints (job_id, completed_tasks, data, updated_at) VALUES ($1, 1, $2, now())',
        [jobs[0], checkpoint],
      );
      await q(
        `INSERT INTO task_artifacts (job_id, task, mask, model_json, weights, weights_file_name, updated_at) VALUES ($1, 0, $2, '{"m": 0}', $3, 'weights.bin', now())`,
        [jobs[0], mask, weights],
      );
      await q(
        `INSERT INTO task_artifacts (job_id, task, mask, model_json, weights, weights_file_name, updated_at) VALUES ($1, 1, NULL, '{"m": 1}', ''::bytea, 'weights.bin', now())`,
        [jobs[0]],
      );
      // A target without a model export (main's 20261210000000_unexportable_models): no weights, no blob.
      await q(
        `INSERT INTO task_artifacts (job_id, task, mask, model_json, weights, weights_file_name, model_unavailable, updated_at) VALUES ($1, 0, NULL, NULL, NULL, NULL, 'no LayersModel', now())`,
        [jobs[1]],
      );

      assert.deepEqual(
        (await migrate({ url: URL, schema: upgrade, dir: DIR })).applied.slice(0, 1),
        [MOVE_TO_BLOBS],
      );
      const row = (await q('SELECT blob_id FROM checkpoints WHERE job_id = $1', [jobs[0]])).rows[0];
      assert.deepEqual(Buffer.from(await readBlobBytes(pool, row.blob_id)), checkpoint);
      assert.deepEqual(
        (
          await q(
            'SELECT seq, length(data) AS n FROM blob_chunks WHERE blob_id = $1 ORDER BY seq',
            [row.blob_id],
          )
        ).rows,
        [
          { seq: 0, n: 2 ** 20 },
          { seq: 1, n: 2 ** 20 },
          { seq: 2, n: 2 ** 19 },
        ],
      );
      const artifacts = (
        await q(
          'SELECT task, mask_blob_id, weights_blob_id, model_json FROM task_artifacts WHERE job_id = $1 ORDER BY task',
          [jobs[0]],
        )
      ).rows;
      assert.deepEqual(Buffer.from(await readBlobBytes(pool, artifacts[0].mask_blob_id)), mask);
      assert.deepEqual(
        Buffer.from(await readBlobBytes(pool, artifacts[0].weights_blob_id)),
        weights,
      );
      assert.equal(artifacts[1].mask_blob_id, null);
      assert.equal((await readBlobBytes(pool, artifacts[1].weights_blob_id)).length, 0);
      assert.deepEqual(
        artifacts.map((a) => a.model_json),
        [{ m: 0 }, { m: 1 }],
      );
      assert.equal((await q('SELECT count(*)::int AS n FROM blobs')).rows[0].n, 4);
      assert.deepEqual(
        (
          await q(
            'SELECT mask_blob_id, weights_blob_id, model_json, model_unavailable FROM task_artifacts WHERE job_id = $1',
            [jobs[1]],
          )
        ).rows,
        [
          {
            mask_blob_id: null,
            weights_blob_id: null,
            model_json: null,
            model_unavailable: 'no LayersModel',
          },
        ],
      );
      assert.equal(
        (await q('SELECT count(*)::int AS n FROM checkpoints WHERE job_id = $1', [jobs[1]])).rows[0]
          .n,
        0,
        'a job without a checkpoint still has none',
      );
    } finally {
      await pool.end();
      await dropSchema(URL, upgrade);
      await rm(older, { recursive: true, force: true });
    }
  });
});
