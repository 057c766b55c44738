/**
 * `npm run build:ui`: bundles the dashboard (ui/src, Preact + uPlot) with esbuild into ui/dist
 * (index.html, app.js, app.css), which is committed and served by the API at /ui, so neither
 * setup nor a deploy has a build step. `--check` exits 1 when the committed files differ from a
 * fresh build (test/unit/ui/build.test.ts uses the same function). The output depends only on the
 * sources and the pinned esbuild, Preact and uPlot versions.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
export const UI_DIR = path.join(ROOT, 'ui');
export const UI_DIST_DIR = path.join(UI_DIR, 'dist');

/** The built files by name: what ui/dist must hold. */
export async function buildUi(): Promise<Map<string, Buffer>> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { app: 'ui/src/main.tsx' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome111', 'firefox114', 'safari16.4'],
    tsconfig: 'ui/tsconfig.json',
    minify: true,
    legalComments: 'eof',
    banner: {
      js: '/*! Retain dashboard (npm run build:ui). Bundles Preact, MIT License, (c) 2015-present Jason Miller, and uPlot, MIT License, (c) 2022 Leon Sorokin. */',
    },
    // node_modules may be a link to another checkout; paths must not depend on where it points.
    preserveSymlinks: true,
    outdir: 'ui/dist',
    write: false,
    logLevel: 'silent',
  });
  const files = new Map<string, Buffer>();
  for (const out of result.outputFiles)
    files.set(path.basename(out.path), Buffer.from(out.contents));
  files.set('index.html', await readFile(path.join(UI_DIR, 'index.html')));
  return files;
}

/** Names of the files in ui/dist that differ from `built`, are missing, or should not be there. */
export async function staleFiles(built: Map<string, Buffer>): Promise<string[]> {
  const present = await readdir(UI_DIST_DIR).catch(() => [] as string[]);
  const stale: string[] = present.filter((name) => !built.has(name));
  for (const [name, contents] of built) {
    const committed = await readFile(path.join(UI_DIST_DIR, name)).catch(() => null);
    if (!committed || !committed.equals(contents)) stale.push(name);
  }
  return stale;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const built = await buildUi();
  if (process.argv.includes('--check')) {
    const stale = await staleFiles(built);
    if (stale.length) {
      console.error(
        `ui/dist is out of date (${stale.join(', ')}): run \`npm run build:ui\` and commit it`,
      );
      process.exit(1);
    }
    console.log('ui/dist is up to date');
  } else {
    await rm(UI_DIST_DIR, { recursive: true, force: true });
    await mkdir(UI_DIST_DIR, { recursive: true });
    for (const [name, contents] of built) await writeFile(path.join(UI_DIST_DIR, name), contents);
    console.log(
      `wrote ${[...built].map(([name, c]) => `ui/dist/${name} (${(c.length / 1024).toFixed(0)} KiB)`).join(', ')}`,
    );
  }
}
