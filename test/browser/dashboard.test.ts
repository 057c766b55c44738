/**
 * The dashboard (/ui) in a real browser (Debian's chromium driven by playwright-core) against a
 * real API and worker: a key kept in sessionStorage only, a spec error shown beside its field, a
 * job submitted from the form and followed live to the end, and the job page checked against the
 * API: every heatmap cell against GET /v1/jobs/:id/metrics, task inference, each mask's per-layer
 * sparsity against the mask file, and the downloads against the API's bytes. One tiny job.
 * Screenshots go to test-results/screenshots/dashboard (the path is printed).
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { decodeSafetensors } from '../../src/core/io/safetensors.js';
import { launchChromium } from '../helpers/browser.js';
import { csv } from '../helpers/dataset-builders.js';
import { createTestService, ROOT, tinySpec, type TestService } from '../helpers/service.js';

interface JsonSchema {
  enum?: unknown[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
}

const SHOTS = path.join(ROOT, 'test-results', 'screenshots', 'dashboard');
/** Every wait in the page has a deadline; a job of two tiny tasks ends well within JOB_MS. */
const WAIT_MS = 20_000;
const JOB_MS = 180_000;
const LEARNING_RATE = 0.0003;

/** What the page must show for an accuracy: percent with one decimal (computed here, not with the page's code). */
const shown = (v: number) => (v * 100).toFixed(1);

describe('dashboard in a browser', () => {
  let svc: TestService;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let api: string;
  let auth: string;
  let key: string;
  /** The job the form submits. */
  let jobId: string;
  /** Content-Security-Policy violations and uncaught errors, from every page. */
  const problems: string[] = [];

  const apiGet = async (url: string) => {
    const res = await fetch(`${api}${url}`, { headers: { authorization: auth } });
    assert.equal(res.status, 200, `${url}: ${res.status}`);
    return res;
  };
  const shot = (name: string, p = page) =>
    p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  /** Requests each page made for an event stream. */
  const streamRequests = new Map<Page, number>();
  const watch = (p: Page) => {
    p.setDefaultTimeout(WAIT_MS);
    streamRequests.set(p, 0);
    p.on('request', (r) => {
      if (new URL(r.url()).pathname.endsWith('/stream'))
        streamRequests.set(p, streamRequests.get(p)! + 1);
    });
    p.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    p.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) problems.push(`CSP: ${msg.text()}`);
    });
  };

  /**
   * Another tab on the job page, with the key entered (each tab asks: the key is per tab), `stream`
   * handling its stream requests.
   */
  const openJobPage = async (stream: (route: Route) => Promise<void>) => {
    const p = await context.newPage();
    watch(p);
    await p.route('**/stream*', stream);
    await p.goto(`${api}/ui/#/jobs/${jobId}`);
    await p.fill('#api-key', key);
    await p.click('button[type=submit]');
    return p;
  };

  before(async () => {
    await rm(SHOTS, { recursive: true, force: true });
    await mkdir(SHOTS, { recursive: true });
    console.log(`dashboard screenshots: ${SHOTS}`);
    svc = await createTestService('dashboard');
    await svc.app.listen({ port: 0, host: '127.0.0.1' });
    api = `http://127.0.0.1:${(svc.app.server.address() as AddressInfo).port}`;
    auth = await svc.auth('dashboard');
    key = auth.slice('Bearer '.length);
    browser = await launchChromium();
    context = await browser.newContext({
      acceptDownloads: true,
      viewport: { width: 1280, height: 900 },
    });
    page = await context.newPage();
    watch(page);
  });
  after(async () => {
    await browser?.close();
    await svc?.close();
  });

  it('asks for a key, refuses a wrong one, and keeps the right one in sessionStorage only', async () => {
    await page.goto(`${api}/ui`);
    assert.equal(new URL(page.url()).pathname, '/ui/');
    await page.fill('#api-key', 'not-a-key');
    await page.click('button[type=submit]');
    await page.getByText('The API refused this key.').waitFor();
    await shot('1-key-refused');

    await page.fill('#api-key', key);
    await page.click('button[type=submit]');
    await page.getByText('No jobs yet.').waitFor();
    assert.equal(await page.evaluate('sessionStorage.getItem("retain.apiKey")'), key);
    assert.equal(await page.evaluate('localStorage.length'), 0);
    assert.deepEqual(await context.cookies(), []);
  });

  it("offers in each choice of the job form exactly the values the API's document allows", async () => {
    await page.click('nav >> text=New job');
    const doc = JSON.parse(await readFile(path.join(ROOT, 'openapi', 'openapi.json'), 'utf8'));
    const body = doc.paths['/v1/jobs'].post.requestBody.content['application/json'].schema;
    /** The string values a schema allows, through anyOf. */
    const strings = (schema: JsonSchema): string[] =>
      (schema.enum?.filter((v): v is string => typeof v === 'string') ?? []).concat(
        (schema.anyOf ?? []).flatMap(strings),
      );
    const fields = page.locator('[data-field]:has(select)');
    const paths = await fields.evaluateAll((els) => els.map((e) => e.getAttribute('data-field')!));
    assert.ok(paths.includes('preset') && paths.includes('network.kind'), paths.join(', '));
    for (const fieldPath of paths) {
      const schema = fieldPath.split('.').reduce((s: JsonSchema, key) => s.properties![key], body);
      const options = await page
        .locator(`[data-field="${fieldPath}"] option`)
        .evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value).filter((v) => v));
      assert.deepEqual([...options].sort(), strings(schema).sort(), fieldPath);
    }
  });

  it('shows spec errors beside their fields, then submits a job from the form', async () => {
    const spec = tinySpec({ iterationsPerTask: 40 });
    const field = (p: string) => page.locator(`[data-field="${p}"]`);
    await field('name').locator('input').fill('from the dashboard');
    await field('method').locator('select').selectOption('hypermask');
    await field('benchmark.kind').locator('select').selectOption('split');
    await field('benchmark.dataset').locator('select').selectOption('mnist');
    await field('benchmark.tasks').locator('input').fill('2');
    await field('benchmark.classesPerTask').locator('input').fill('2');
    await field('training.seed').locator('input').fill(String(spec.training.seed));
    await field('evaluation.taskInference').locator('select').selectOption('both');
    // The rest of the tiny spec goes through the JSON box. A learning rate this low leaves the
    // accuracies short of 100 % and unequal, so a number in the wrong cell would show.
    const extra = {
      benchmark: {
        trainLimit: spec.benchmark.trainLimit,
        testLimit: spec.benchmark.testLimit,
        validationSize: spec.benchmark.validationSize,
        augment: false,
      },
      network: spec.network,
      hypernetwork: spec.hypernetwork,
      training: {
        batchSize: spec.training.batchSize,
        validationEvery: spec.training.validationEvery,
        learningRate: LEARNING_RATE,
      },
    };

    // A value the schema refuses, in an input: its message beside that input.
    await field('training.iterationsPerTask').locator('input').fill('0');
    await field('extra').locator('textarea').fill(JSON.stringify(extra));
    await page.click('button:has-text("Submit job")');
    const iterationsError = field('training.iterationsPerTask').locator('.field-error');
    await iterationsError.waitFor();
    assert.match(
      await iterationsError.innerText(),
      /^training\.iterationsPerTask: must be an integer between 1 and \d+ \(got 0\)$/,
    );
    assert.equal(await page.locator('.field-error').count(), 1, 'only that field shows an error');
    assert.equal(
      await field('training.iterationsPerTask').locator('input').getAttribute('aria-invalid'),
      'true',
    );
    await shot('2-spec-error-beside-field');

    // One inside the JSON box: its message beside the box.
    await field('training.iterationsPerTask')
      .locator('input')
      .fill(String(spec.training.iterationsPerTask));
    await field('extra')
      .locator('textarea')
      .fill(JSON.stringify({ ...extra, network: { hidden: [0] } }));
    await page.click('button:has-text("Submit job")');
    const extraError = field('extra').locator('.field-error');
    await extraError.waitFor();
    assert.match(await extraError.innerText(), /^network\.hidden\[0\]: /);
    assert.equal(await iterationsError.count(), 0, 'the fixed field no longer shows an error');
    assert.equal(
      (await (await apiGet('/v1/jobs')).json()).items.length,
      0,
      'refused specs created no job',
    );

    await field('extra').locator('textarea').fill(JSON.stringify(extra));
    await page.click('button:has-text("Submit job")');
    await page.waitForURL(/#\/jobs\/[0-9a-f-]{36}$/);
    jobId = page.url().split('/').pop()!;
    const job = await (await apiGet(`/v1/jobs/${jobId}`)).json();
    assert.equal(job.name, 'from the dashboard');
    const { benchmark, training, network, evaluation } = job.spec;
    assert.deepEqual(
      [
        benchmark.kind,
        benchmark.dataset,
        benchmark.tasks,
        benchmark.classesPerTask,
        benchmark.trainLimit,
        benchmark.augment,
      ],
      ['split', 'mnist', 2, 2, spec.benchmark.trainLimit, false],
    );
    assert.deepEqual(
      [
        training.iterationsPerTask,
        training.batchSize,
        training.seed,
        network.hidden,
        evaluation.taskInference,
      ],
      [40, 32, spec.training.seed, [16], 'both'],
    );
  });

  it('follows the job live to the end and shows the metrics endpoint numbers', async () => {
    const header = page.locator('.job-header');
    // No worker yet: the job waits, and the page follows it.
    await header.locator('[data-status="queued"]').waitFor();
    const mode = await page.locator('[data-testid="live-mode"]').getAttribute('data-mode');
    const job = await (await apiGet(`/v1/jobs/${jobId}`)).json();
    assert.equal(
      mode,
      job.links.stream ? 'stream' : 'polling',
      'the event stream when the API has one, else polling',
    );
    await shot('3-job-queued');

    // Where the API has the stream: a page for which it is missing must fall back to polling, and
    // a page whose first connection drops after two events must resume after the second.
    const others: Page[] = [];
    let dropped: string | null = null;
    let resumedFrom: string | undefined;
    if (job.links.stream) {
      const polling = await openJobPage((route) =>
        route.fulfill({
          status: 404,
          contentType: 'application/json',
          body: JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no route' } }),
        }),
      );
      await polling.locator('[data-testid="live-mode"][data-mode="polling"]').waitFor();
      const resuming = await openJobPage(async (route) => {
        if (dropped !== null) {
          resumedFrom = route.request().headers()['last-event-id'];
          return route.continue();
        }
        // The whole stream (it ends with the job), of which the page gets the first two events.
        const events = (await (await route.fetch({ timeout: JOB_MS })).text())
          .split('\n\n')
          .filter((e) => /^id: /m.test(e));
        dropped = /^id: (\d+)/m.exec(events[1])![1];
        await route.fulfill({
          status: 200,
          contentType: 'text/event-stream',
          body: `${events.slice(0, 2).join('\n\n')}\n\n`,
        });
      });
      await resuming.locator('[data-testid="live-mode"][data-mode="stream"]').waitFor();
      others.push(polling, resuming);
    }

    await svc.startWorker();
    for (const p of [page, ...others]) {
      await p
        .locator('.job-header [data-status="succeeded"], .job-header [data-status="failed"]')
        .waitFor({ timeout: JOB_MS });
      assert.equal(await p.locator('.job-header .status').getAttribute('data-status'), 'succeeded');
      await assertShowsMetrics(p);
    }
    if (others.length) {
      const [polling, resuming] = others;
      // One stream to the end, not a stream given up for polling.
      assert.equal(streamRequests.get(page), 1, 'stream requests of the streaming page');
      assert.equal(streamRequests.get(polling), 1, 'the polling page tried the stream once');
      assert.equal(streamRequests.get(resuming), 2, 'the resuming page connected twice');
      assert.equal(resumedFrom, dropped, 'and resumed after the last event it had');
      await shot('4-job-succeeded-polling', polling);
    } else {
      assert.equal(streamRequests.get(page), 0, 'no stream without links.stream');
    }
    await shot('4-job-succeeded');
    for (const p of others) await p.close();
  });

  /** The heatmap, the summary and task inference against GET /v1/jobs/:id/metrics. */
  async function assertShowsMetrics(p: Page) {
    const metrics = await (await apiGet(`/v1/jobs/${jobId}/metrics`)).json();
    const matrix: number[][] = metrics.accuracyMatrix;
    assert.equal(matrix.length, 2);
    assert.equal(
      new Set(matrix.flat()).size,
      3,
      `three different accuracies, so that no cell can show another's: ${JSON.stringify(matrix)}`,
    );
    const cells = p.locator('[data-testid="accuracy-heatmap"] td.heat-cell');
    // The last row comes with the job's end; wait for the page to have read it.
    await p.locator(`td.heat-cell[data-row="1"][data-col="1"]`).waitFor();
    assert.equal(await cells.count(), matrix.flat().length, 'one cell per entry of the matrix');
    for (const [k, row] of matrix.entries()) {
      for (const [j, v] of row.entries()) {
        const cell = p.locator(`td.heat-cell[data-row="${k}"][data-col="${j}"]`);
        assert.equal(await cell.innerText(), shown(v), `cell (${k}, ${j})`);
        assert.equal(await cell.getAttribute('data-value'), String(v), `cell (${k}, ${j}) value`);
      }
    }
    const average = p.locator('[data-testid="summary"] dd[data-value]');
    assert.equal(await average.getAttribute('data-value'), String(metrics.averageAccuracy));
    assert.equal(await average.innerText(), `${shown(metrics.averageAccuracy)} %`);

    for (const [id, inference] of [
      ['task-inference', metrics.taskInference],
      ['task-inference-fecam', metrics.fecamTaskInference],
    ] as const) {
      assert.ok(inference, `the spec asked for task inference (${id})`);
      const rows = p.locator(`[data-testid="${id}"] tbody tr`);
      assert.equal(await rows.count(), inference.perTask.length);
      for (const [i, r] of inference.perTask.entries()) {
        assert.deepEqual(
          await rows.nth(i).locator('td').allInnerTexts(),
          [shown(r.taskAccuracy), shown(r.classAccuracy)],
          `${id}, task ${r.task}`,
        );
      }
      assert.deepEqual(await p.locator(`[data-testid="${id}"] tfoot td`).allInnerTexts(), [
        shown(inference.taskAccuracy),
        shown(inference.classAccuracy),
      ]);
    }

    // Both curves and one line per task; the charts draw on canvases.
    assert.equal(await p.locator('.charts .chart canvas').count(), 2);
    for (const chart of await p.locator('.charts .chart').all()) {
      assert.deepEqual(
        await chart.locator('.u-legend .u-series:not(:first-child) .u-label').allInnerTexts(),
        ['task 0', 'task 1'],
      );
    }
  }

  it('shows each task mask: per-layer sparsity as in the mask file, and a histogram', async () => {
    for (const task of [0, 1]) {
      await page.click(`.tabs button:has-text("task ${task}")`);
      const panel = page.locator(`[data-testid="mask-summary"][data-task="${task}"]`);
      await panel.waitFor();
      const file = new Uint8Array(
        await (await apiGet(`/v1/jobs/${jobId}/tasks/${task}/mask`)).arrayBuffer(),
      );
      const { tensors } = decodeSafetensors(file);
      assert.equal(await panel.locator('tbody tr').count(), tensors.length);
      for (const t of tensors) {
        const zeros = t.data.filter((v) => v === 0).length;
        const cell = panel.locator(`tr[data-layer="${t.name}"] td.sparsity`);
        assert.equal(
          await cell.getAttribute('data-value'),
          String(zeros / t.data.length),
          `${t.name} of task ${task}`,
        );
        assert.equal(await cell.innerText(), shown(zeros / t.data.length));
      }
      assert.equal(await panel.locator('.chart canvas').count(), 1, 'the histogram');
    }
    await page.locator('[data-testid="mask-summary"]').scrollIntoViewIfNeeded();
    await shot('5-masks');
  });

  it('downloads a mask and a model with the key, as the API serves them', async () => {
    const row = page.locator('[data-testid="task-table"] tr[data-task="0"]');
    const save = async (label: string) => {
      const [file] = await Promise.all([
        page.waitForEvent('download'),
        row.locator(`button:has-text("${label}")`).click(),
      ]);
      return { name: file.suggestedFilename(), bytes: await readFile(await file.path()) };
    };
    const mask = await save('mask.safetensors');
    assert.equal(mask.name, `job-${jobId.slice(0, 8)}-task-0-mask.safetensors`);
    assert.ok(
      mask.bytes.equals(
        Buffer.from(await (await apiGet(`/v1/jobs/${jobId}/tasks/0/mask`)).arrayBuffer()),
      ),
      'the mask bytes',
    );

    const weights = await save('weights.bin');
    assert.ok(
      weights.bytes.equals(
        Buffer.from(
          await (await apiGet(`/v1/jobs/${jobId}/tasks/0/model/weights.bin`)).arrayBuffer(),
        ),
      ),
      'the weights bytes',
    );
    const model = await save('model.json');
    const served = await (await apiGet(`/v1/jobs/${jobId}/tasks/0/model/model.json`)).json();
    const saved = JSON.parse(model.bytes.toString('utf8'));
    assert.deepEqual(
      saved.weightsManifest[0].paths,
      [weights.name],
      'model.json names the weights file as saved',
    );
    assert.deepEqual({ ...saved, weightsManifest: served.weightsManifest }, served);
  });

  it('lists the job with its status and result', async () => {
    await page.click('nav >> text=Jobs');
    const row = page.locator(`[data-testid="job-list"] tr[data-job="${jobId}"]`);
    await row.waitFor();
    const job = await (await apiGet(`/v1/jobs/${jobId}`)).json();
    assert.equal(await row.locator('.status').getAttribute('data-status'), 'succeeded');
    assert.match(
      await row.innerText(),
      new RegExp(
        `from the dashboard[\\s\\S]*${shown(job.result.averageAccuracy).replace('.', '\\.')}`,
      ),
    );
    await shot('6-job-list');
  });

  it('lists data sets', async () => {
    const upload = await svc.app.inject({
      method: 'POST',
      url: '/v1/datasets?name=tiny-table',
      headers: { authorization: auth, 'content-type': 'application/octet-stream' },
      payload: csv(
        ['a', 'b', 'label'],
        Array.from({ length: 12 }, (_, i) => [i, i / 2, i % 3 ? 'cat' : 'dog']),
      ),
    });
    assert.equal(upload.statusCode, 201, upload.body);
    await page.click('nav >> text=Data sets');
    const row = page.locator(`[data-testid="dataset-list"] tr[data-dataset="${upload.json().id}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /tiny-table[\s\S]*csv[\s\S]*2: cat, dog/);
    await shot('7-datasets');
  });

  it('forgets the key on request, and broke no Content-Security-Policy rule', async () => {
    await page.click('button:has-text("Forget key")');
    await page.locator('#api-key').waitFor();
    assert.equal(await page.evaluate('sessionStorage.length'), 0);
    assert.deepEqual(problems, []);
  });
});
