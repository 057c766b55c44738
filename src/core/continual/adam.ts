import * as tf from '@tensorflow/tfjs-core';

export interface AdamArgs {
  learningRate: number;
  /** PyTorch defaults. */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/**
 * Adam exactly as torch.optim.Adam (no weight decay): p -= lr * m_hat / (sqrt(v_hat) + eps).
 * Written here rather than using tf.train.adam because HNET's lookahead needs the update the
 * optimiser *would* make without changing its state (`delta`), and because HyperMask re-creates
 * the optimiser at every task, which is simply a new instance.
 */
export class Adam {
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
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
    this.m = params.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    this.v = params.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
  }

  /** Applies one update. `grads[i]` belongs to `params[i]`; the caller keeps ownership of grads. */
  step(grads: tf.Tensor[]): void {
    this.steps++;
    const { beta1: b1, beta2: b2, epsilon } = this;
    const c1 = 1 - b1 ** this.steps;
    const c2 = 1 - b2 ** this.steps;
    const stepSize = this.args.learningRate / c1;
    const sqrtC2 = Math.sqrt(c2);
    this.params.forEach((p, i) => {
      tf.tidy(() => {
        const g = grads[i];
        const m = tf.add(tf.mul(this.m[i], b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(this.v[i], b2), tf.mul(tf.square(g), 1 - b2));
        // lr * (m / c1) / (sqrt(v / c2) + eps) = (lr / c1) * m / (sqrt(v) / sqrt(c2) + eps)
        const update = tf.div(tf.mul(m, stepSize), tf.add(tf.div(tf.sqrt(v), sqrtC2), epsilon));
        this.m[i].assign(m);
        this.v[i].assign(v);
        p.assign(tf.sub(p, update));
      });
    });
  }

  /**
   * The change the next `step(grads)` would make to each parameter, without changing any state
   * (HNET's lookahead Delta-Theta, computed like hypercl's adam_step replay). Caller disposes.
   */
  delta(grads: tf.Tensor[]): tf.Tensor[] {
    const { beta1: b1, beta2: b2, epsilon } = this;
    const t = this.steps + 1;
    const stepSize = this.args.learningRate / (1 - b1 ** t);
    const sqrtC2 = Math.sqrt(1 - b2 ** t);
    return grads.map((g, i) =>
      tf.tidy(() => {
        const m = tf.add(tf.mul(this.m[i], b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(this.v[i], b2), tf.mul(tf.square(g), 1 - b2));
        return tf.neg(tf.div(tf.mul(m, stepSize), tf.add(tf.div(tf.sqrt(v), sqrtC2), epsilon)));
      }),
    );
  }

  dispose(): void {
    [...this.m, ...this.v].forEach((t) => t.dispose());
  }
}
