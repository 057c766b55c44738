/**
 * `npm run build:kernels`: compiles the WebAssembly kernels in src/core/kernels/*.wat (text
 * format, the source of truth) into src/core/kernels/*.wasm.ts, which hold the module bytes so the
 * core loads them without file access or a build step at run time. `--check` exits 1 when a
 * committed .wasm.ts differs from what its .wat compiles to (test/unit/core/kernels.test.ts uses
 * the same function).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

export const KERNELS_DIR = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'src',
  'core',
  'kernels',
);

/** The TypeScript module for one .wat file: its bytes, base64-encoded. */
export async function compileKernel(watFile: string): Promise<string> {
  const wabt = await wabtInit();
  const source = await readFile(watFile, 'utf8');
  const parsed = wabt.parseWat(path.basename(watFile), source, { simd: true });
  try {
    parsed.validate();
    const { buffer } = parsed.toBinary({});
    const name = path.basename(watFile);
    return [
      `// Generated from ${name} by \`npm run build:kernels\`. Do not edit; edit ${name} instead.`,
      `export const WASM_BASE64 =`,
      `  '${Buffer.from(buffer).toString('base64')}';`,
      '',
    ].join('\n');
  } finally {
    parsed.destroy();
  }
}

export async function kernelFiles(): Promise<string[]> {
  return (await readdir(KERNELS_DIR))
    .filter((f) => f.endsWith('.wat'))
    .map((f) => path.join(KERNELS_DIR, f));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const wat of await kernelFiles()) {
    const out = wat.replace(/\.wat$/, '.wasm.ts');
    const code = await compileKernel(wat);
    if (check) {
      if ((await readFile(out, 'utf8').catch(() => '')) !== code) {
        console.error(
          `${path.relative(process.cwd(), out)} is out of date: run \`npm run build:kernels\` and commit it`,
        );
        stale++;
      }
    } else {
      await writeFile(out, code);
      console.log(`wrote ${path.relative(process.cwd(), out)}`);
    }
  }
  process.exit(stale ? 1 : 0);
}
