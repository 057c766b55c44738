/**
 * TF.js backend selection, done once per process by an entry point (CLI, worker), never by the
 * core. Order: TensorFlow C library with CUDA (@tensorflow/tfjs-node-gpu), TensorFlow on CPU
 * (@tensorflow/tfjs-node), WebAssembly (@tensorflow/tfjs-backend-wasm), plain JavaScript (cpu).
 * The native packages are optional dependencies: their install script downloads libtensorflow,
 * which fails where there is no network, and then they are simply absent.
 */
import * as tf from '@tensorflow/tfjs-core';

export const BACKEND_CHOICES = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface SelectedBackend {
  /** What trained the job: "tensorflow-gpu", "tensorflow", "wasm" or "cpu". */
  name: Exclude<BackendChoice, 'auto'>;
  /** Why the earlier candidates were skipped, for logs. */
  skipped: string[];
}

const candidates: Record<Exclude<BackendChoice, 'auto'>, () => Promise<void>> = {
  'tensorflow-gpu': async () => {
    // An optional package: the cast keeps tsc from requiring its types where it is not installed.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    await import('@tensorflow/tfjs-node-gpu' as string);
    await use('tensorflow');
  },
  tensorflow: async () => {
    // An optional package: the cast keeps tsc from requiring its types where it is not installed.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    await import('@tensorflow/tfjs-node' as string);
    await use('tensorflow');
  },
  wasm: async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    await use('wasm');
  },
  cpu: async () => {
    await import('@tensorflow/tfjs-backend-cpu');
    await use('cpu');
  },
};

async function use(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} did not initialise`);
  await tf.ready();
}

/** Selects the first backend that loads, starting at `preferred` ("auto" tries all in order). */
export async function selectBackend(preferred: BackendChoice = 'auto'): Promise<SelectedBackend> {
  if (!BACKEND_CHOICES.includes(preferred)) {
    throw new Error(`unknown backend "${preferred}"; use one of ${BACKEND_CHOICES.join(', ')}`);
  }
  const order = (Object.keys(candidates) as SelectedBackend['name'][]).filter(
    (name) => preferred === 'auto' || name === preferred,
  );
  const skipped: string[] = [];
  for (const name of order) {
    try {
      await candidates[name]();
      return { name, skipped };
    } catch (err) {
      skipped.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`no TF.js backend could be loaded (${skipped.join('; ')})`);
}
