/**
 * The production build, run the way the images run it. `npm run build` writes dist/ into a
 * temporary directory laid out like the images' /app (package.json, node_modules, dist/), whose
 * node_modules gets the production dependencies only, with the script the images' dependency
 * stages run (scripts/install-production-deps.sh, offline here: from a hard-linked copy of this
 * checkout's node_modules). Then each image's CMD from the Dockerfile, and the webhook service's
 * command from docker-compose.yml, start with plain `node` on this file's Postgres schema and
 * Redis queues: the image's migration runner applies the migrations to a fresh schema, a tiny job
 * trains to the end through HTTP, the dashboard is served, and an image upload and a prediction
 * go through the API's two worker threads. Nothing there can load tsx or TypeScript, so a runtime
 * file the build leaves out fails here.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, realpath, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { dropSchema } from '../../src/infra/prisma/migrator.js';
import { imageFolderFiles, packTar } from '../helpers/dataset-builders.js';
import {
  createTestService,
  eventually,
  ROOT,
  tinySpec,
  type TestService,
} from '../helpers/service.js';

const run = promisify(execFile);

interface Stage {
  name: string;
  from: string;
  /** Its instructions after FROM, continuation lines joined. */
  instructions: string[];
}

/** The Dockerfile's stages, in order. */
function parseStages(dockerfile: string): Stage[] {
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) stages.push({ from: from[1], name: from[2] ?? '', instructions: [] });
    else stages.at(-1)?.instructions.push(line);
  }
  return stages;
}

/** The exec-form CMD of a stage, as argv. */
function cmdOf(stage: Stage): string[] {
  const cmd = stage.instructions.filter((l) => l.startsWith('CMD ')).at(-1);
  assert.ok(cmd, `stage ${stage.name} has no CMD`);
  return JSON.parse(cmd.slice(4)) as string[];
}

/** The exec-form `command:` of a docker-compose service, as argv. */
function composeCommand(compose: string, service: string): string[] {
  const block = new RegExp(`\\n  ${service}:\\n((?:    .*\\n|\\s*\\n)+)`).exec(compose);
  assert.ok(block, `docker-compose.yml has no service ${service}`);
  const command = /^ {4}command: (\[.*\])$/m.exec(block[1]);
  assert.ok(command, `service ${service} has no one-line command`);
  return JSON.parse(command[1].replace(/'/g, '"')) as string[];
}

describe('production build: the images commands on the compiled JavaScript', () => {
  let svc: TestService;
  let auth: string;
  let app: string;
  let stages: Stage[];
  let compose: string;
  const stage = (name: string) => {
    const s = stages.find((x) => x.name === name);
    assert.ok(s, `the Dockerfile has no stage ${name}`);
    return s;
  };

  before(async () => {
    stages = parseStages(await readFile(path.join(ROOT, 'Dockerfile'), 'utf8'));
    compose = await readFile(path.join(ROOT, 'docker-compose.yml'), 'utf8');
    svc = await createTestService('production_build');
    auth = await svc.auth('acme');
    app = await mkdtemp(path.join(os.tmpdir(), 'retain-prod-'));
    await run('npm', ['run', '--silent', 'build', '--', '--out', path.join(app, 'dist')], {
      cwd: ROOT,
      timeout: 120_000,
    });
    for (const f of ['package.json', 'package-lock.json'])
      await copyFile(path.join(ROOT, f), path.join(app, f));
    // Hard links make the copy instant; npm rewrites its hidden lockfile in place, so that one is
    // a real copy (npm removing the other links leaves the originals alone).
    const modules = await realpath(path.join(ROOT, 'node_modules'));
    await run('cp', ['-al', modules, path.join(app, 'node_modules')]).catch(() =>
      run('cp', ['-a', modules, path.join(app, 'node_modules')]),
    );
    const hidden = path.join(app, 'node_modules', '.package-lock.json');
    await rm(hidden, { force: true });
    await copyFile(path.join(modules, '.package-lock.json'), hidden);
    await run('bash', [path.join(ROOT, 'scripts', 'install-production-deps.sh'), '--offline'], {
      cwd: app,
      timeout: 120_000,
    });
  });
  after(async () => {
    await svc?.close();
    if (app) await rm(app, { recursive: true, force: true });
  });

  it('the Dockerfile pulls only pinned images, and its stages and compose targets exist', () => {
    for (const [i, s] of stages.entries()) {
      const earlier = stages.slice(0, i).map((x) => x.name);
      if (!earlier.includes(s.from)) assert.match(s.from, /:[^:/]+$/, `FROM ${s.from}: no tag`);
      assert.doesNotMatch(s.from, /:latest$/);
      for (const l of s.instructions) {
        const from = /--from=(\S+)/.exec(l);
        if (from) assert.ok(earlier.includes(from[1]), `${l}: no earlier stage ${from[1]}`);
      }
    }
    for (const target of compose.matchAll(/target: (\S+)/g)) stage(target[1]);
    // The runtime images install nothing: their node_modules come from the production stages.
    for (const name of ['api', 'worker']) {
      for (const l of stage(name).instructions) assert.doesNotMatch(l, /\bnpm (ci|install)\b/);
    }
  });

  it('installs no dev dependency: no tsx, TypeScript, Prisma CLI or esbuild', async () => {
    for (const dev of ['tsx', 'typescript', 'prisma', 'esbuild', 'dependency-cruiser']) {
      const found = await stat(path.join(app, 'node_modules', dev)).catch(() => null);
      assert.equal(found, null, `node_modules/${dev} is in the production install`);
    }
  });

  it("the API image's migration runner applies every migration to a fresh schema", async () => {
    const schema = `test_production_build_migrate_${randomBytes(4).toString('hex')}`;
    const url = new URL(svc.env.DATABASE_URL);
    url.searchParams.set('schema', schema);
    const migrations = (
      await readdir(path.join(ROOT, 'prisma', 'migrations'), { withFileTypes: true })
    ).filter((d) => d.isDirectory()).length;
    try {
      const { stdout } = await run(process.execPath, ['dist/scripts/migrate.js'], {
        cwd: app,
        env: { ...process.env, ...svc.env, DATABASE_URL: url.toString() },
        timeout: 60_000,
      });
      assert.match(stdout, new RegExp(`^${migrations} migration\\(s\\) applied, 0 already`, 'm'));
    } finally {
      await dropSchema(svc.config.databaseUrl, schema);
    }
  });

  it("the images' CMDs serve the API and dashboard and train a job to the end", async () => {
    const [apiNode, ...apiArgs] = cmdOf(stage('api'));
    const [workerNode, ...workerArgs] = cmdOf(stage('worker'));
    assert.equal(apiNode, 'node');
    assert.equal(workerNode, 'node');
    const api = await svc.startCommand(apiArgs, {
      cwd: app,
      ready: /Server listening at http:\/\/127\.0\.0\.1:\d+/,
      env: { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info' },
    });
    const base = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(api.output())![1];
    await svc.startCommand(workerArgs, { cwd: app, ready: /ready: queue/ });
    const headers = { authorization: auth, 'content-type': 'application/json' };

    const submitted = await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers,
      body: JSON.stringify(tinySpec({ iterationsPerTask: 20 })),
    });
    assert.equal(submitted.status, 201, await submitted.clone().text());
    const { id } = (await submitted.json()) as { id: string };
    const job = await eventually(
      async () => {
        const j = (await (await fetch(`${base}/v1/jobs/${id}`, { headers })).json()) as {
          status: string;
          backend: string;
          error: unknown;
        };
        return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
      },
      200,
      60_000,
    );
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    assert.equal(job.backend, 'wasm');

    const ui = await fetch(`${base}/ui/`);
    assert.equal(ui.status, 200);
    assert.match(ui.headers.get('content-type') ?? '', /text\/html/);

    // The prediction thread (compiled predict.thread.js) answers from the trained job's model.
    const predicted = await fetch(`${base}/v1/jobs/${id}/predict`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ inputs: [new Array<number>(28 * 28).fill(0)], task: 0 }),
    });
    assert.equal(predicted.status, 200, await predicted.clone().text());

    // The inspection thread (compiled inspect.thread.js) decodes PNGs with sharp, whose native
    // binary is an optional dependency of sharp: the production install must keep it.
    const { files } = await imageFolderFiles({
      classes: ['a', 'b'],
      perClass: { train: 2, test: 1 },
      width: 8,
      height: 8,
    });
    const uploaded = await fetch(`${base}/v1/datasets?name=shapes`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(await packTar(files)),
    });
    assert.equal(uploaded.status, 201, await uploaded.clone().text());
    assert.equal(((await uploaded.json()) as { status: string }).status, 'ready');
  });

  it("docker-compose.yml's webhook command starts the webhook worker on the API image", async () => {
    const [node, ...args] = composeCommand(compose, 'webhooks');
    assert.equal(node, 'node');
    await svc.startCommand(args, { cwd: app, ready: /ready: webhook queue/ });
  });
});
