import * as tf from '@tensorflow/tfjs-core';
import { adamKernel, type AdamKernel } from '../kernels/adam-kernel.js';
import { hostMemoryAvailable, hostView, wasmHeap, type WasmHeap } from './host-memory.js';

export interface AdamArgs {
  learningRate: number;
  /** PyTorch defaults. */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** wasm only: above this many parameter elements in all, moments are staged (see below). */
  heapMomentsMaxElements?: number;
  /** wasm only: elements per staged chunk. */
  stageElements?: number;
}

/**
 * Moment estimates, kept where the fastest update path for the backend wants them: tensors in
 * the wasm heap for the WebAssembly kernel, plain arrays for the JS loop on cpu, variables for the
 * tensor-op path elsewhere (GPU, TensorFlow).
 */
type Moments =
  | { kind: 'wasm'; m: tf.Tensor; v: tf.Tensor }
  | { kind: 'staged'; m: Float32Array; v: Float32Array }
  | { kind: 'host'; m: Float32Array; v: Float32Array }
  | { kind: 'tensor'; m: tf.Variable; v: tf.Variable };

const f32 = Math.fround;

/**
 * On wasm, moments stay in the TF.js heap while the optimiser's parameters total at most this
 * many elements (moments 512 MB). Larger models (the permuted-mnist preset's 205.6 M) would not fit
 * the 4 GB heap with parameters, gradients and moments in it, so their moments live in JS memory
 * and go through the kernel in chunks of STAGE_ELEMENTS, copied in and out of a heap scratch area.
 */
export const HEAP_MOMENTS_MAX_ELEMENTS = 64 * 2 ** 20;
const STAGE_ELEMENTS = 2 ** 20;

/**
 * Adam exactly as torch.optim.Adam (no weight decay), in float32 and torch's order of operations:
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= stepSize * m / (sqrt(v)/sqrtC2 + eps)
 * with stepSize = lr / (1 - b1^t) and sqrtC2 = sqrt(1 - b2^t).
 *
 * Written here rather than using tf.train.adam because HNET's lookahead needs the update the
 * optimiser *would* make without changing its state (`delta`), and for speed: on wasm one SIMD
 * kernel (kernels/adam.wat) reads parameters, gradients and moments where TF.js keeps them and
 * writes the new parameters into a fresh tensor, a single pass over memory instead of a chain of
 * a dozen full-size tensor ops (bench/README.md). HyperMask re-creates the optimiser per task.
 *
 * Parameters are never written in place: the wasm backend caches matMul operators with the
 * weights packed, keyed by the tensor's data id, so an in-place change would go unseen.
 */
export class Adam {
  private readonly moments: Moments[];
  private readonly heap: WasmHeap | null;
  private readonly kernel: AdamKernel | null;
  /** Heap scratch for staged moments: [2, STAGE_ELEMENTS], m then v. */
  private readonly stage: tf.Tensor | null = null;
  private readonly stageElements: number;
  private steps = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;

  constructor(
    private readonly params: tf.Variable[],
    private args: AdamArgs,
  ) {
    this.beta1 = args.beta1 ?? 0.9;
    this.beta2 = args.beta2 ?? 0.999;
    this.epsilon = args.epsilon ?? 1e-8;
    this.heap = wasmHeap();
    this.kernel = this.heap && adamKernel(this.heap);
    const host = hostMemoryAvailable();
    this.stageElements = args.stageElements ?? STAGE_ELEMENTS;
    const staged =
      this.heap !== null &&
      params.reduce((n, p) => n + p.size, 0) >
        (args.heapMomentsMaxElements ?? HEAP_MOMENTS_MAX_ELEMENTS);
    if (staged) this.stage = this.heap.allocate([2, this.stageElements]);
    this.moments = params.map((p): Moments => {
      if (staged)
        return { kind: 'staged', m: new Float32Array(p.size), v: new Float32Array(p.size) };
      if (this.heap) return { kind: 'wasm', m: tf.zerosLike(p), v: tf.zerosLike(p) };
      if (host) return { kind: 'host', m: new Float32Array(p.size), v: new Float32Array(p.size) };
      return {
        kind: 'tensor',
        m: tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
        v: tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      };
    });
  }

  /** The learning rate of the next steps; a learning-rate schedule may change it between steps. */
  get learningRate(): number {
    return this.args.learningRate;
  }

  set learningRate(rate: number) {
    this.args = { ...this.args, learningRate: rate };
  }

  /** Step size and bias-correction terms for step number `t` (1-based). */
  private coefficients(t: number) {
    return {
      stepSize: this.args.learningRate / (1 - this.beta1 ** t),
      sqrtC2: Math.sqrt(1 - this.beta2 ** t),
    };
  }

  /** Applies one update. `grads[i]` belongs to `params[i]`; the caller keeps ownership of grads. */
  step(grads: tf.Tensor[]): void {
    this.steps++;
    const { stepSize, sqrtC2 } = this.coefficients(this.steps);
    const { beta1: b1, beta2: b2, epsilon: eps } = this;
    this.params.forEach((p, i) => {
      const mom = this.moments[i];
      if (mom.kind === 'wasm' || mom.kind === 'staged') {
        const heap = this.heap!;
        const out = heap.allocate(p.shape);
        const [po, go, oo] = [p, grads[i], out].map(heap.offsetOf);
        // Elements [from, from + len) with their moments at byte offsets mo and vo.
        const update = (from: number, len: number, mo: number, vo: number) =>
          this.kernel!.step(
            po + 4 * from,
            go + 4 * from,
            mo,
            vo,
            oo + 4 * from,
            len,
            b1,
            1 - b1,
            b2,
            1 - b2,
            stepSize,
            sqrtC2,
            eps,
          );
        if (mom.kind === 'wasm') update(0, p.size, heap.offsetOf(mom.m), heap.offsetOf(mom.v));
        else this.staged(mom, update);
        p.assign(out);
        out.dispose();
      } else if (mom.kind === 'host') {
        const out = new Float32Array(p.size);
        hostStep(
          hostView(p)!,
          hostView(grads[i])!,
          mom.m,
          mom.v,
          out,
          b1,
          b2,
          stepSize,
          sqrtC2,
          eps,
        );
        tf.tidy(() => p.assign(tf.tensor(out, p.shape)));
      } else {
        tf.tidy(() => {
          const m = tf.add(tf.mul(mom.m, b1), tf.mul(grads[i], 1 - b1));
          const v = tf.add(tf.mul(mom.v, b2), tf.mul(tf.square(grads[i]), 1 - b2));
          mom.m.assign(m);
          mom.v.assign(v);
          p.assign(tf.sub(p, tf.mul(tf.div(m, tf.add(tf.div(tf.sqrt(v), sqrtC2), eps)), stepSize)));
        });
      }
    });
  }

  /** Runs `update` chunk by chunk with the chunk's moments copied into the heap scratch and back. */
  private staged(
    mom: { m: Float32Array; v: Float32Array },
    update: (from: number, len: number, mo: number, vo: number) => void,
  ): void {
    const heap = this.heap!;
    const chunk = this.stageElements;
    const mo = heap.offsetOf(this.stage!);
    const vo = mo + 4 * chunk;
    for (let from = 0; from < mom.m.length; from += chunk) {
      const len = Math.min(chunk, mom.m.length - from);
      // A fresh view each time: the heap's buffer is replaced whenever it grows.
      const f32Heap = new Float32Array(heap.memory.buffer);
      f32Heap.set(mom.m.subarray(from, from + len), mo / 4);
      f32Heap.set(mom.v.subarray(from, from + len), vo / 4);
      update(from, len, mo, vo);
      mom.m.set(f32Heap.subarray(mo / 4, mo / 4 + len), from);
      mom.v.set(f32Heap.subarray(vo / 4, vo / 4 + len), from);
    }
  }

  /**
   * The change the next `step(grads)` would make to each parameter, without changing any state
   * (HNET's lookahead Delta-Theta, computed like hypercl's adam_step replay). Caller disposes.
   */
  delta(grads: tf.Tensor[]): tf.Tensor[] {
    const { stepSize, sqrtC2 } = this.coefficients(this.steps + 1);
    const { beta1: b1, beta2: b2, epsilon: eps } = this;
    return grads.map((grad, i) => {
      const mom = this.moments[i];
      if (mom.kind === 'wasm') {
        const heap = this.heap!;
        const out = heap.allocate(grad.shape);
        const at = heap.offsetOf;
        this.kernel!.delta(
          at(grad),
          at(mom.m),
          at(mom.v),
          at(out),
          grad.size,
          b1,
          1 - b1,
          b2,
          1 - b2,
          stepSize,
          sqrtC2,
          eps,
        );
        return out;
      }
      if (mom.kind === 'host' || mom.kind === 'staged') {
        const out = new Float32Array(grad.size);
        const g = mom.kind === 'host' ? hostView(grad)! : (grad.dataSync() as Float32Array);
        // A step from zero parameters, on copies of the moments, is exactly -delta.
        hostStep(
          new Float32Array(grad.size),
          g,
          mom.m.slice(),
          mom.v.slice(),
          out,
          b1,
          b2,
          stepSize,
          sqrtC2,
          eps,
        );
        return tf.tensor(out, grad.shape);
      }
      return tf.tidy(() => {
        const m = tf.add(tf.mul(mom.m, b1), tf.mul(grad, 1 - b1));
        const v = tf.add(tf.mul(mom.v, b2), tf.mul(tf.square(grad), 1 - b2));
        return tf.neg(tf.mul(tf.div(m, tf.add(tf.div(tf.sqrt(v), sqrtC2), eps)), stepSize));
      });
    });
  }

  /**
   * Everything the optimiser carries between steps, as float32 arrays (copies): the step count
   * and each parameter's first and second moments, for a checkpoint written within a task.
   */
  exportState(): { steps: number; m: Float32Array[]; v: Float32Array[] } {
    const read = (x: tf.Tensor | Float32Array) =>
      x instanceof Float32Array ? x.slice() : (x.dataSync() as Float32Array).slice();
    return {
      steps: this.steps,
      m: this.moments.map((mom) => read(mom.m)),
      v: this.moments.map((mom) => read(mom.v)),
    };
  }

  /** Continues from `exportState()` of an optimiser over parameters of the same shapes. */
  importState(state: { steps: number; m: Float32Array[]; v: Float32Array[] }): void {
    this.steps = state.steps;
    this.moments.forEach((mom, i) => {
      const shape = this.params[i].shape;
      if (state.m[i].length !== this.params[i].size || state.v[i].length !== this.params[i].size)
        throw new Error(`optimiser state of parameter ${i} has the wrong size`);
      if (mom.kind === 'host' || mom.kind === 'staged') {
        mom.m.set(state.m[i]);
        mom.v.set(state.v[i]);
      } else if (mom.kind === 'tensor') {
        tf.tidy(() => {
          mom.m.assign(tf.tensor(state.m[i], shape));
          mom.v.assign(tf.tensor(state.v[i], shape));
        });
      } else {
        tf.dispose([mom.m, mom.v]);
        this.moments[i] = {
          kind: 'wasm',
          m: tf.tensor(state.m[i], shape),
          v: tf.tensor(state.v[i], shape),
        };
      }
    });
  }

  dispose(): void {
    for (const mom of this.moments)
      if (mom.kind === 'wasm' || mom.kind === 'tensor') tf.dispose([mom.m, mom.v]);
    this.stage?.dispose();
  }
}

/** The update of kernels/adam.wat in JS, float32 at every operation (the cpu backend's path). */
function hostStep(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  out: Float32Array,
  beta1: number,
  beta2: number,
  stepSize: number,
  sqrtC2: number,
  eps: number,
): void {
  const b1 = f32(beta1),
    b2 = f32(beta2),
    c1 = f32(1 - beta1),
    c2 = f32(1 - beta2);
  const s = f32(stepSize),
    q = f32(sqrtC2),
    e = f32(eps);
  for (let k = 0; k < out.length; k++) {
    const gk = g[k];
    const mk = (m[k] = f32(f32(b1 * m[k]) + f32(c1 * gk)));
    const vk = (v[k] = f32(f32(b2 * v[k]) + f32(f32(c2 * gk) * gk)));
    out[k] = f32(p[k] - f32(s * f32(mk / f32(f32(f32(Math.sqrt(vk)) / q) + e))));
  }
}
