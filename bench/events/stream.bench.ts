/**
 * Open event streams on one API process: GET /v1/jobs/:id/stream held open by 500, 1,000, 2,000
 * then 4,000 clients (BENCH_STREAMS) over loopback, against the real API process (src/http/server.ts), while
 * this process, acting as a worker on another machine, writes loss points into Postgres at
 * BENCH_RATE per second for BENCH_SECONDS. Measured: the API's resident memory (idle, with the
 * streams open, after the events, after they closed), its CPU time while events flow, the time to
 * open a stream (request to its first, replayed, event), and event latency (from just before the
 * INSERT is sent to the event parsed by the client: trigger, NOTIFY, the API's one LISTEN
 * connection, fan-out, SSE, parsing). Every stream must receive every event of its job.
 * Writes bench/results/event-stream.json. Usage: npx tsx bench/events/stream.bench.ts
 */
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { SseClient } from '../../test/helpers/sse-client.js';
import { machine, ROOT as root, startBenchService } from '../harness.js';

const loadAverageAtStart = os.loadavg()[0];
const TARGETS = (process.env.BENCH_STREAMS ?? '500,1000,2000,4000').split(',').map(Number);
const JOBS = Number(process.env.BENCH_JOBS ?? 100);
const RATE = Number(process.env.BENCH_RATE ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const OPEN_CONCURRENCY = 50;

// Thousands of stream requests with one key: no rate limit, and the 100 jobs must all be accepted.
const svc = await startBenchService({
  port: Number(process.env.BENCH_PORT ?? 3921),
  worker: false,
  env: { RATE_LIMIT_MAX: '0', MAX_ACTIVE_JOBS_PER_TENANT: '0' },
});
const { base } = svc;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const summary = (xs: number[]) => ({
  n: xs.length,
  p50Ms: round(quantile(xs, 0.5)),
  p90Ms: round(quantile(xs, 0.9)),
  p99Ms: round(quantile(xs, 0.99)),
  maxMs: round(Math.max(...xs)),
});

/** The API's resident memory now, MiB. */
async function rssNow(): Promise<number> {
  const status = await readFile(`/proc/${svc.apiPid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}
/**
 * The API's resident memory, MiB: the median of 5 samples 400 ms apart (garbage collection makes
 * single samples jump).
 */
async function rssMiB(): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) {
    if (i > 0) await sleep(400);
    xs.push(await rssNow());
  }
  return round(quantile(xs, 0.5));
}
/** CPU seconds the API has used (user + system). */
async function cpuSeconds(): Promise<number> {
  const fields = (await readFile(`/proc/${svc.apiPid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

try {
  const headers = { ...svc.auth, 'content-type': 'application/json' };
  const jobs: string[] = [];
  for (let i = 0; i < JOBS; i++) {
    const res = await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ preset: 'split-mnist', training: { iterationsPerTask: 10 } }),
    });
    jobs.push(((await res.json()) as { id: string }).id);
  }
  // The highest resident memory seen during the whole run, sampled every 250 ms.
  let peakRss = 0;
  const sampler = setInterval(
    () =>
      void rssNow().then(
        (x) => (peakRss = Math.max(peakRss, x)),
        () => {},
      ),
    250,
  );
  await sleep(2000);
  const idleRss = await rssMiB();
  console.log(`API idle: ${idleRss} MiB`);

  // Events of each job, written by us; latency per (job, iteration) from the moment before the INSERT.
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const streams: { job: string; client: SseClient }[] = [];
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const onEvent =
    (job: string) => (e: { event: string; data: Record<string, unknown>; receivedAt: number }) => {
      if (e.event !== 'job.loss') return;
      const t0 = sentAt.get(`${job}:${String(e.data.iteration)}`);
      if (t0 !== undefined) latencies.push(e.receivedAt - t0);
    };
  const phases = [];
  let iteration = 0;
  for (const target of TARGETS) {
    const openMs: number[] = [];
    const toOpen = Array.from(
      { length: target - streams.length },
      (_, i) => jobs[(streams.length + i) % jobs.length],
    );
    const t0 = performance.now();
    for (let i = 0; i < toOpen.length; i += OPEN_CONCURRENCY) {
      await Promise.all(
        toOpen.slice(i, i + OPEN_CONCURRENCY).map(async (job) => {
          const start = performance.now();
          const client = await SseClient.connect(`${base}/v1/jobs/${job}/stream`, svc.auth, {
            agent,
            onEvent: onEvent(job),
            timeoutMs: 30_000,
          });
          await client.waitFor((e) => e.id === 1, 30_000);
          openMs.push(performance.now() - start);
          streams.push({ job, client });
        }),
      );
    }
    const openedInMs = performance.now() - t0;
    await sleep(3000);
    const openRss = await rssMiB();
    console.log(`${streams.length} streams open in ${round(openedInMs / 1000)} s: ${openRss} MiB`);

    // Events: RATE loss points per second over random jobs, each fanned out to that job's streams.
    latencies.length = 0;
    const perJob = new Map<string, number>();
    for (const s of streams) perJob.set(s.job, (perJob.get(s.job) ?? 0) + 1);
    const before = streams.map((s) => s.client.events.length);
    const cpu0 = await cpuSeconds();
    const started = performance.now();
    let expected = 0;
    let sent = 0;
    while (performance.now() - started < SECONDS * 1000) {
      const due = Math.floor(((performance.now() - started) / 1000) * RATE);
      for (; sent < due; sent++) {
        const job = jobs[Math.floor(Math.random() * jobs.length)];
        const it = ++iteration;
        sentAt.set(`${job}:${it}`, performance.now());
        await svc.pool.query(
          `INSERT INTO metric_points (job_id, kind, task, iteration, value) VALUES ($1, 'loss', 0, $2, 0.5)`,
          [job, it],
        );
        expected += perJob.get(job) ?? 0;
      }
      await sleep(5);
    }
    const eventSeconds = (performance.now() - started) / 1000;
    const cpu = (await cpuSeconds()) - cpu0;
    await sleep(3000);
    const received = streams.reduce(
      (n, s, i) =>
        n + s.client.events.slice(before[i]).filter((e) => e.event === 'job.loss').length,
      0,
    );
    const afterEventsRss = await rssMiB();
    const phase = {
      streams: streams.length,
      jobs: JOBS,
      openSeconds: round(openedInMs / 1000),
      openStream: summary(openMs),
      rssMiB: { withStreams: openRss, afterEvents: afterEventsRss },
      events: {
        written: sent,
        perSecond: RATE,
        seconds: round(eventSeconds),
        deliveriesExpected: expected,
        deliveriesReceived: received,
        missing: expected - received,
      },
      apiCpuPercentOfOneCore: round((100 * cpu) / eventSeconds),
      latency: summary(latencies),
    };
    phases.push(phase);
    console.log(JSON.stringify(phase));
  }
  for (const s of streams) s.client.close();
  await sleep(3000);
  const closedRss = await rssMiB();
  clearInterval(sampler);
  const result = {
    when: new Date().toISOString(),
    machine: machine(loadAverageAtStart),
    setup:
      'one API process (src/http/server.ts, defaults: STREAM_HEARTBEAT_MS 15 s, pool of 10) and this process on the same 2 cores, loopback HTTP/1.1, one TCP connection per stream; ' +
      `${JOBS} queued jobs (no worker), streams spread evenly over them; events are loss points INSERTed by this process (as a worker elsewhere would) at ${RATE}/s, ` +
      'each reaching every stream of its job; latency from just before the INSERT to the event parsed by the client, which shares the process with the writer and all clients',
    idleRssMiB: idleRss,
    phases,
    rssAfterClientsLeftMiB: closedRss,
    peakRssMiB: round(peakRss),
  };
  await writeFile(
    path.join(root, 'bench', 'results', 'event-stream.json'),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  console.log('wrote bench/results/event-stream.json');
} finally {
  await svc.stop();
}
