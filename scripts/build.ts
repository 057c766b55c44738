/**
 * `npm run build [-- --out DIR]`: what production runs (the images, `npm run start:*:prod`).
 *
 * tsc compiles src/, workers/ and the two operator scripts (migrate, apikey) with
 * tsconfig.build.json into DIR (default dist/), keeping the repository's layout, and the files the
 * compiled code reads at run time from paths relative to itself are copied beside them: the
 * dashboard's committed build (ui/dist, served at /ui) and the SQL migrations (prisma/migrations,
 * applied by scripts/migrate.js). The generated Prisma client (src/generated) is compiled with the
 * rest; the WebAssembly kernels are TypeScript modules holding their bytes (src/core/kernels/
 * *.wasm.ts), and the .wasm files TF.js and Prisma load come from their packages in node_modules.
 * DIR then needs only the production dependencies beside it (../node_modules, ../package.json).
 */
import { execFileSync } from 'node:child_process';
import { cp, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Files copied as they are, relative to the repository and to DIR alike. */
/** Files copied as they are, relative to the repository and to DIR alike. */
const RUNTIME_FILES = ['ui/dist', 'prisma/migrations'];

/** What the images and the `start:*:prod` scripts start, relative to DIR. */
const ENTRY_POINTS = [
  'src/http/server.js',
  'workers/training.worker.js',
  'workers/training.sandbox.js',
  'workers/webhook.worker.js',
  'scripts/migrate.js',
  'scripts/apikey.js',
  'src/cli/train.js',
  'src/infra/datasets/inspect.thread.js',
  'src/infra/predictions/predict.thread.js',
];

const { values } = parseArgs({ options: { out: { type: 'string', default: 'dist' } } });
const out = path.resolve(values.out);
const started = Date.now();
await rm(out, { recursive: true, force: true });
execFileSync('bash', [path.join(ROOT, 'scripts', 'prisma-generate.sh')], { stdio: 'inherit' });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(
  process.execPath,
  [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', out],
  {
    cwd: ROOT,
    stdio: 'inherit',
  },
);
for (const dir of RUNTIME_FILES) {
  await cp(path.join(ROOT, dir), path.join(out, dir), { recursive: true });
}
for (const file of ENTRY_POINTS) {
  if (!(await stat(path.join(out, file)).catch(() => null))) {
    throw new Error(`the build has no ${file}: is it still in tsconfig.build.json's include?`);
  }
}
console.log(`built ${path.relative(process.cwd(), out) || '.'} in ${Date.now() - started} ms`);
