import { assert } from '../errors.js';
import type { DatasetFacts, JobSpec } from '../spec.js';

/**
 * Iterations of one epoch over `trainSize` samples in batches of `batchSize`: ceil(n / batch), the
 * last batch of an epoch being the short one (hypermask-method.md section 1, "for epoch-based
 * configs, ceil(n_train / batch) * epochs"; HyperMask main.py `calculate_number_of_iterations`).
 */
export function iterationsPerEpoch(trainSize: number, batchSize: number): number {
  assert(trainSize > 0 && batchSize > 0, 'an epoch needs training samples and a batch size');
  return Math.ceil(trainSize / batchSize);
}

/**
 * Training iterations of a task with `trainSize` training samples: `iterationsPerTask`, or
 * `epochsPerTask` epochs of `iterationsPerEpoch`.
 */
export function taskIterations(training: JobSpec['training'], trainSize: number): number {
  if (training.epochsPerTask === null) return training.iterationsPerTask!;
  return training.epochsPerTask * iterationsPerEpoch(trainSize, training.batchSize);
}

/** ReduceLROnPlateau's settings; `PLATEAU` holds those of the reference. */
export interface PlateauSettings {
  /** Multiplier applied to every learning rate on a plateau. */
  factor: number;
  /** Epochs without improvement tolerated; the rates drop at the (patience + 1)-th. */
  patience: number;
  /** Floor of every learning rate. */
  minLearningRate: number;
  /** Relative improvement needed ("rel" threshold mode): better means above best * (1 + threshold). */
  threshold: number;
  /** Epochs after a drop during which bad epochs are not counted. */
  cooldown: number;
  /** A drop smaller than this is not applied. */
  eps: number;
}

/**
 * HyperMask main.py L587-600: `ReduceLROnPlateau(optimizer, "max", factor=np.sqrt(0.1),
 * patience=5, min_lr=0.5e-6, cooldown=0)`, PyTorch's defaults for the rest (threshold 1e-4 in
 * "rel" mode, eps 1e-8); hypercl cifar/train.py uses the same (after keras.io's cifar10_resnet).
 */
export const PLATEAU: PlateauSettings = {
  factor: Math.sqrt(0.1),
  patience: 5,
  minLearningRate: 5e-7,
  threshold: 1e-4,
  cooldown: 0,
  eps: 1e-8,
};

/** What a scheduler carries from one epoch to the next (it starts afresh with every task). */
export interface PlateauState {
  best: number;
  badEpochs: number;
  cooldownLeft: number;
}

/**
 * torch.optim.lr_scheduler.ReduceLROnPlateau in "max" mode, stepped once per epoch with the
 * validation accuracy. An epoch improves when its accuracy is above best * (1 + threshold) (so
 * once best is 0, any positive accuracy improves; equal accuracy never does). After more than
 * `patience` epochs in a row without improvement every rate becomes max(rate * factor, min), a
 * drop below `eps` being skipped, and the count restarts (after `cooldown` epochs in which bad
 * epochs are not counted). Pure: the rates go in and come out.
 */
export class PlateauScheduler {
  private state: PlateauState = { best: -Infinity, badEpochs: 0, cooldownLeft: 0 };

  constructor(private readonly settings: PlateauSettings = PLATEAU) {}

  /** The state to continue from (a checkpoint within a task); JSON-safe (best -Infinity as null). */
  save(): { best: number | null; badEpochs: number; cooldownLeft: number } {
    const s = this.state;
    return { ...s, best: Number.isFinite(s.best) ? s.best : null };
  }

  restore(saved: { best: number | null; badEpochs: number; cooldownLeft: number }): void {
    this.state = { ...saved, best: saved.best ?? -Infinity };
  }

  /** The rates to use after an epoch that ended with `accuracy`, given the rates `rates` it ran with. */
  step(accuracy: number, rates: readonly number[]): number[] {
    const s = this.settings;
    const st = this.state;
    if (accuracy > st.best * (1 + s.threshold)) {
      st.best = accuracy;
      st.badEpochs = 0;
    } else st.badEpochs++;
    if (st.cooldownLeft > 0) {
      st.cooldownLeft--;
      st.badEpochs = 0;
    }
    if (st.badEpochs <= s.patience) return [...rates];
    st.cooldownLeft = s.cooldown;
    st.badEpochs = 0;
    return rates.map((old) => {
      const lowered = Math.max(old * s.factor, s.minLearningRate);
      return old - lowered > s.eps ? lowered : old;
    });
  }
}

/** Training samples per class of the built-in data sets (their standard IDX train files). */
const BUILT_IN_TRAIN_COUNTS: Record<JobSpec['benchmark']['dataset'], number[]> = {
  mnist: [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
  'fashion-mnist': Array.from({ length: 10 }, () => 6000),
};

/**
 * Each task's planned length before any data are loaded, for progress reports: the iterations of
 * `taskIterations` over the training split the resolved spec implies (pool of the task's classes,
 * capped by trainLimit, less validationSize). Uploaded data sets' sizes come from `datasets` (what
 * `resolveSpec` was given); the built-in ones from their standard files. Training itself counts
 * the loaded splits, so this can only differ from it for built-in files other than the standard.
 */
export function plannedTaskIterations(
  spec: JobSpec,
  datasets: ReadonlyMap<string, Pick<DatasetFacts, 'classNames' | 'counts'>> = new Map(),
): number[] {
  const b = spec.benchmark;
  const trainSize = (pool: number) =>
    Math.max(1, Math.min(pool, b.trainLimit ?? Infinity) - b.validationSize);
  if (typeof b.tasks === 'number') {
    const counts = BUILT_IN_TRAIN_COUNTS[b.dataset];
    return Array.from({ length: b.tasks }, (_, t) => {
      const pool =
        b.kind === 'split'
          ? counts
              .slice(t * b.classesPerTask, (t + 1) * b.classesPerTask)
              .reduce((a, n) => a + n, 0)
          : counts.reduce((a, n) => a + n, 0);
      return taskIterations(spec.training, trainSize(pool));
    });
  }
  return b.tasks.map((task) => {
    const facts = datasets.get(task.dataset);
    const pool = facts
      ? task.classes.reduce((a, c) => a + (facts.counts.train[facts.classNames.indexOf(c)] ?? 0), 0)
      : 1;
    return taskIterations(spec.training, trainSize(pool));
  });
}

/**
 * The iterations per task a job's progress counts with: the spec's, or for a length in epochs the
 * planned iterations per task (`plannedTaskIterations`), averaged and rounded up when the tasks'
 * training splits differ in size (progress is then approximate; the engine's ETA is exact).
 */
export function progressIterations(
  spec: JobSpec,
  datasets?: ReadonlyMap<string, Pick<DatasetFacts, 'classNames' | 'counts'>>,
): number {
  if (spec.training.iterationsPerTask !== null) return spec.training.iterationsPerTask;
  const planned = plannedTaskIterations(spec, datasets);
  return Math.ceil(planned.reduce((a, n) => a + n, 0) / Math.max(1, planned.length));
}
