import * as tf from '@tensorflow/tfjs-core';
import { EngineError } from '../errors.js';
import type { Learner, TaskStateArray } from '../methods/learner.js';

/**
 * Best-validation model selection (HyperMask's `best_model_selection_method = "val_loss"`, which
 * despite its name keeps the best validation *accuracy*: main.py L546-553, L732-736, L752-755).
 * `offer` copies every variable of the model (the target's weights and batch-norm parameters, the
 * hypernetwork and every task embedding: what the reference's deep copies of both networks hold)
 * when the accuracy is strictly above the best so far, so a tie keeps the earlier model; `restore`
 * puts the best copy back. The reference starts from 0.0 with a copy of the model at the task's
 * start; here the first offer is always kept, which differs only when every accuracy is 0.
 *
 * The copies are tensors beside the model (one more model's worth of memory while a task trains).
 */
export class BestModel {
  private best = -Infinity;
  private copies: tf.Tensor[] | null = null;

  constructor(private readonly learner: Learner) {}

  /** The best accuracy offered so far (-Infinity before the first offer). */
  get accuracy(): number {
    return this.best;
  }

  /** Keeps a copy of the current model when `accuracy` beats every earlier one. Returns whether it did. */
  offer(accuracy: number): boolean {
    if (!(accuracy > this.best)) return false;
    this.best = accuracy;
    tf.dispose(this.copies ?? []);
    this.copies = this.learner.namedVariables().map(({ variable }) => tf.clone(variable));
    return true;
  }

  /**
   * The best copy as named arrays `best/<variable name>` for a checkpoint within a task (none
   * before the first offer).
   */
  save(): TaskStateArray[] {
    if (!this.copies) return [];
    const names = this.learner.namedVariables().map((v) => v.name);
    return this.copies.map((c, i) => ({
      name: `best/${names[i]}`,
      shape: [...c.shape],
      data: (c.dataSync() as Float32Array).slice(),
    }));
  }

  /** Continues from `save()` and the best accuracy it was taken at (null: nothing offered yet). */
  restoreSaved(accuracy: number | null, saved: ReadonlyMap<string, TaskStateArray>): void {
    this.dispose();
    if (accuracy === null) return;
    this.best = accuracy;
    this.copies = this.learner.namedVariables().map(({ name, variable }) => {
      const a = saved.get(`best/${name}`);
      if (!a || a.shape.join(',') !== variable.shape.join(','))
        throw new EngineError('INVALID_CHECKPOINT', `checkpoint lacks the best model's ${name}`);
      return tf.tensor(a.data, a.shape, 'float32');
    });
  }

  /** Puts the best copy back into the model (nothing when nothing was offered) and frees the copies. */
  restore(): void {
    if (this.copies) {
      const vars = this.learner.namedVariables();
      vars.forEach(({ variable }, i) => variable.assign(this.copies![i]));
    }
    this.dispose();
  }

  dispose(): void {
    tf.dispose(this.copies ?? []);
    this.copies = null;
  }
}
