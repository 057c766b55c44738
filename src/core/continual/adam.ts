import * as tf from '@tensorflow/tfjs-core';
import { hostMemoryAvailable, hostView } from './host-memory.js';

export interface AdamArgs {
  learningRate: number;
  /** PyTorch defaults. */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/** Moment estimates: plain arrays on host-memory backends, variables elsewhere. */
type Moments = { kind: 'host'; m: Float32Array; v: Float32Array } | { kind: 'tensor'; m: tf.Variable; v: tf.Variable };

/**
 * Adam exactly as torch.optim.Adam (no weight decay): p -= lr * m_hat / (sqrt(v_hat) + eps).
 * Written here rather than using tf.train.adam because HNET's lookahead needs the update the
 * optimiser *would* make without changing its state (`delta`), and because on the wasm and cpu
 * backends one fused loop per tensor (see host-memory.ts) is several times faster than the
 * chain of tensor ops. HyperMask re-creates the optimiser at every task: a new instance.
 */
export class Adam {
  private readonly moments: Moments[];
  private steps = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;

  constructor(
    private readonly params: tf.Variable[],
    private readonly args: AdamArgs,
  ) {
    this.beta1 = args.beta1 ?? 0.9;
    this.beta2 = args.beta2 ?? 0.999;
    this.epsilon = args.epsilon ?? 1e-8;
    const host = hostMemoryAvailable();
    this.moments = params.map((p) =>
      host
        ? { kind: 'host', m: new Float32Array(p.size), v: new Float32Array(p.size) }
        : {
            kind: 'tensor',
            m: tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
            v: tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
          },
    );
  }

  /** Step size and bias-correction terms for step number `t` (1-based). */
  private coefficients(t: number) {
    return { stepSize: this.args.learningRate / (1 - this.beta1 ** t), sqrtC2: Math.sqrt(1 - this.beta2 ** t) };
  }

  /** Applies one update. `grads[i]` belongs to `params[i]`; the caller keeps ownership of grads. */
  step(grads: tf.Tensor[]): void {
    this.steps++;
    const { stepSize, sqrtC2 } = this.coefficients(this.steps);
    const { beta1: b1, beta2: b2, epsilon: eps } = this;
    this.params.forEach((p, i) => {
      const mom = this.moments[i];
      if (mom.kind === 'host') {
        const g = hostView(grads[i])!;
        const old = hostView(p)!;
        // Never write a parameter in place: the wasm backend caches matMul operators with the
        // weights packed, keyed by the tensor's data id, so in-place changes would go unseen.
        const out = new Float32Array(old.length);
        const { m, v } = mom;
        for (let k = 0; k < out.length; k++) {
          const gk = g[k];
          const mk = (m[k] = b1 * m[k] + (1 - b1) * gk);
          const vk = (v[k] = b2 * v[k] + (1 - b2) * gk * gk);
          out[k] = old[k] - (stepSize * mk) / (Math.sqrt(vk) / sqrtC2 + eps);
        }
        tf.tidy(() => p.assign(tf.tensor(out, p.shape)));
        return;
      }
      tf.tidy(() => {
        const m = tf.add(tf.mul(mom.m, b1), tf.mul(grads[i], 1 - b1));
        const v = tf.add(tf.mul(mom.v, b2), tf.mul(tf.square(grads[i]), 1 - b2));
        mom.m.assign(m);
        mom.v.assign(v);
        p.assign(tf.sub(p, tf.div(tf.mul(m, stepSize), tf.add(tf.div(tf.sqrt(v), sqrtC2), eps))));
      });
    });
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
      if (mom.kind === 'host') {
        const g = hostView(grad)!;
        const out = new Float32Array(g.length);
        for (let k = 0; k < out.length; k++) {
          const mk = b1 * mom.m[k] + (1 - b1) * g[k];
          const vk = b2 * mom.v[k] + (1 - b2) * g[k] * g[k];
          out[k] = -(stepSize * mk) / (Math.sqrt(vk) / sqrtC2 + eps);
        }
        return tf.tensor(out, grad.shape);
      }
      return tf.tidy(() => {
        const m = tf.add(tf.mul(mom.m, b1), tf.mul(grad, 1 - b1));
        const v = tf.add(tf.mul(mom.v, b2), tf.mul(tf.square(grad), 1 - b2));
        return tf.neg(tf.div(tf.mul(m, stepSize), tf.add(tf.div(tf.sqrt(v), sqrtC2), eps)));
      });
    });
  }

  dispose(): void {
    for (const mom of this.moments) if (mom.kind === 'tensor') tf.dispose([mom.m, mom.v]);
  }
}
