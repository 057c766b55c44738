/**
 * What the production build costs and what the images' node_modules hold:
 *   npx tsx bench/production-build.bench.ts   -> bench/results/production-build.json
 * `npm run build` wall time (BUILD_RUNS times) and dist/'s size; then, from hard-linked copies of
 * this checkout's node_modules (offline), the production install the images make
 * (scripts/install-production-deps.sh) against `npm install --omit=dev` alone: bytes, packages,
 * and which dev-only packages each keeps.
 */
import { execFile } from 'node:child_process';
import {
  copyFile,
  mkdir,
  mkdtemp,
  readFile,
  realpath,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { machine, ROOT } from './harness.js';

const run = promisify(execFile);
const BUILD_RUNS = Number(process.env.BUILD_RUNS ?? 2);
const DEV_ONLY = ['tsx', 'typescript', 'prisma', '@prisma/dev', 'esbuild', 'eslint'];

async function bytes(dir: string): Promise<number> {
  const { stdout } = await run('du', ['-sb', dir]);
  return Number(stdout.split('\t')[0]);
}

async function files(dir: string): Promise<number> {
  const { stdout } = await run('find', [dir, '-type', 'f'], { maxBuffer: 64 * 2 ** 20 });
  return stdout.split('\n').filter(Boolean).length;
}

/** A copy of package.json, the lockfile and node_modules (hard links) in a new directory. */
async function appCopy(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retain-bench-prod-'));
  for (const f of ['package.json', 'package-lock.json'])
    await copyFile(path.join(ROOT, f), path.join(dir, f));
  const modules = await realpath(path.join(ROOT, 'node_modules'));
  await run('cp', ['-al', modules, path.join(dir, 'node_modules')]);
  const hidden = path.join(dir, 'node_modules', '.package-lock.json');
  await rm(hidden);
  await copyFile(path.join(modules, '.package-lock.json'), hidden);
  return dir;
}

async function describeInstall(dir: string) {
  const lock = JSON.parse(
    await readFile(path.join(dir, 'node_modules', '.package-lock.json'), 'utf8'),
  ) as { packages: Record<string, unknown> };
  const kept: string[] = [];
  for (const name of DEV_ONLY) {
    if (await stat(path.join(dir, 'node_modules', name)).catch(() => null)) kept.push(name);
  }
  return {
    bytes: await bytes(path.join(dir, 'node_modules')),
    packages: Object.keys(lock.packages).length,
    devOnlyPackagesKept: kept,
  };
}

const loadAverage = os.loadavg()[0];
const out = await mkdtemp(path.join(os.tmpdir(), 'retain-bench-dist-'));
const buildMs: number[] = [];
for (let i = 0; i < BUILD_RUNS; i++) {
  const t = performance.now();
  await run('npm', ['run', '--silent', 'build', '--', '--out', path.join(out, 'dist')], {
    cwd: ROOT,
  });
  buildMs.push(Math.round(performance.now() - t));
}
const dist = {
  bytes: await bytes(path.join(out, 'dist')),
  files: await files(path.join(out, 'dist')),
};
await rm(out, { recursive: true, force: true });

const scripted = await appCopy();
let t = performance.now();
await run('bash', [path.join(ROOT, 'scripts', 'install-production-deps.sh'), '--offline'], {
  cwd: scripted,
});
const scriptedMs = Math.round(performance.now() - t);
const omitDev = await appCopy();
t = performance.now();
await run('npm', ['install', '--omit=dev', '--offline', '--no-audit', '--no-fund'], {
  cwd: omitDev,
});
const omitDevMs = Math.round(performance.now() - t);
const result = {
  benchmark: 'production-build',
  date: new Date().toISOString(),
  machine: machine(loadAverage),
  node: process.version,
  build: { command: 'npm run build -- --out DIR', runs: buildMs, dist },
  productionInstall: {
    note: 'from hard-linked copies of the checkout node_modules, offline (nothing downloaded)',
    installProductionDeps: { ms: scriptedMs, ...(await describeInstall(scripted)) },
    npmInstallOmitDev: { ms: omitDevMs, ...(await describeInstall(omitDev)) },
    fullCheckout: await describeInstall(ROOT),
  },
};
await rm(scripted, { recursive: true, force: true });
await rm(omitDev, { recursive: true, force: true });
await mkdir(path.join(ROOT, 'bench', 'results'), { recursive: true });
await writeFile(
  path.join(ROOT, 'bench', 'results', 'production-build.json'),
  JSON.stringify(result, null, 2) + '\n',
);
console.log(JSON.stringify(result, null, 2));
