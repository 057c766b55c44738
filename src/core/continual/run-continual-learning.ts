import * as tf from '@tensorflow/tfjs-core';
import type { Batch, ContinualTask } from '../data/types.js';
import { assert, CancelledError, DivergenceError } from '../errors.js';
import {
  checkpointTaskArrays,
  encodeCheckpoint,
  readCheckpointFecam,
  restoreCheckpoint,
  type CheckpointState,
  type InTaskState,
} from '../io/checkpoint.js';
import { encodeFecam, fecamApplies, type FecamTaskStatistics } from '../inference/fecam.js';
import { exportTask } from '../io/export.js';
import { createLearner } from '../methods/create-learner.js';
import {
  crossEntropy,
  meanSquaredError,
  type Learner,
  type StepLosses,
  type TaskStateArray,
} from '../methods/learner.js';
import { median, summarize } from '../metrics/metrics.js';
import { Random } from '../random.js';
import type { JobSpec } from '../spec.js';
import { computeBatchNormStats, type BatchNormStats } from './batch-norm-stats.js';
import { evaluate, fecamTaskStatistics, inferTasks } from './evaluation.js';
import { BestModel } from './model-selection.js';
import { iterationsPerEpoch, PlateauScheduler, taskIterations } from './schedule.js';
import type { ContinualResult, RunOptions, TaskEndEvent } from './types.js';

/**
 * Seed of the model's random stream (initialisation, batch order, augmentation). The data use
 * their own stream (`dataSeed`), so the same data come out whatever the model does.
 */
export const modelSeed = (seed: number) => (seed ^ 0x5bd1e995) >>> 0;
export const dataSeed = (seed: number) => seed >>> 0;

/**
 * Which tasks' exports a consumer that keeps one export per task writes after task `e.task`: that
 * task's own, and at the end of the run's last task every task's, computed with the final model.
 * So while a run goes on, task k's export is the model as it was when task k ended (what the
 * accuracy matrix's A[k][k] measured), and once the last task has ended every export is final
 * (the last row). Over a run of T tasks that writes 2T - 1 exports instead of T(T + 1) / 2.
 */
export function tasksToExport(e: Pick<TaskEndEvent, 'task' | 'tasks'>): number[] {
  return e.task === e.tasks - 1 ? Array.from({ length: e.tasks }, (_, k) => k) : [e.task];
}

/**
 * Trains `spec` on `options.tasks` in order. After every task it evaluates all tasks seen so far
 * on their test sets, writes a checkpoint, offers the per-task exports, and reports through the
 * callbacks, which are awaited (a consumer can persist before training continues). With
 * `resumeFrom` it continues after the checkpoint's last task and ends with the same results as an
 * uninterrupted run on the same backend. The checkpoint may also come from a run of fewer tasks
 * whose spec `spec` continues (`continuesSpec`): its tasks are kept, and only the new ones are
 * trained, ending bit for bit like one run of all the tasks.
 */
export async function runContinualLearning(
  spec: JobSpec,
  options: RunOptions,
): Promise<ContinualResult> {
  const { tasks, callbacks = {}, signal } = options;
  assert(tasks.length > 0, 'at least one task is needed');
  const { inputSize, outputSize, imageShape } = tasks[0];
  assert(
    tasks.every(
      (t) =>
        t.inputSize === inputSize &&
        t.outputSize === outputSize &&
        String(t.imageShape) === String(imageShape),
    ),
    'all tasks must have the same input shape and output size',
  );
  const rng = new Random(modelSeed(spec.training.seed));
  // Task embeddings are created as tasks begin (or from the checkpoint), so a checkpoint holds
  // only trained tasks and can be continued with tasks the spec did not list yet.
  const learner = createLearner(spec, { inputSize, outputSize, imageShape }, rng);
  try {
    // Targets with batch norm get per-task running statistics and a second accuracy matrix.
    const hasBatchNorm = learner.target.batchNormWeights.length > 0;
    let state: CheckpointState = {
      completedTasks: 0,
      rngState: [],
      spec,
      accuracyMatrix: [],
      ...(hasBatchNorm ? { runningStatsAccuracyMatrix: [] } : {}),
      msPerIteration: [],
      taskDurationsMs: [],
    };
    let batchNormStats = new Map<number, BatchNormStats>();
    // Finetune has one network for every task; the other methods give each task its own weights.
    const oneNetwork = spec.method === 'finetune';
    // The statistics task k's network runs with once task `latest` has ended: its own, or with one
    // network the latest task's, taken with the current weights (hypercl's
    // --bn_no_stats_checkpointing). An old task's own statistics describe weights finetune has
    // since changed: with them its old tasks fell to chance.
    const statsFor = (k: number, latest: number) => batchNormStats.get(oneNetwork ? latest : k);
    let stream = rng;
    // Task inference needs tasks with weights of their own and classes.
    const rule = spec.evaluation.taskInference;
    const inferable = !oneNetwork && tasks[0].kind === 'classification';
    const wantsFecam =
      inferable && (rule === 'fecam' || rule === 'both') && fecamApplies(learner.target);
    const wantsEntropy = inferable && (rule === 'entropy' || rule === 'both');
    let fecam: (FecamTaskStatistics | null)[] = [];
    // A checkpoint written within a task continues that task (see checkpoint.ts).
    let inTask: { state: InTaskState; arrays: Map<string, TaskStateArray> } | null = null;
    if (options.resumeFrom) {
      const restored = restoreCheckpoint(options.resumeFrom, learner, spec);
      ({ batchNormStats, ...state } = restored);
      stream = Random.fromState(state.rngState);
      fecam = readCheckpointFecam(options.resumeFrom).slice(0, state.completedTasks);
      if (state.inTask)
        inTask = { state: state.inTask, arrays: checkpointTaskArrays(options.resumeFrom) };
      delete state.inTask;
    }
    // Each task's length: fixed, or epochs over its own training split (tasks may differ in size).
    const lengths = tasks.map((task) => taskIterations(spec.training, task.train.size));
    const totalIterations = lengths.reduce((a, n) => a + n, 0);
    const allIterationMs: number[] = [];
    const { lrSchedule, modelSelection } = spec.training;
    assert(
      (lrSchedule === 'constant' && modelSelection === 'last') ||
        tasks.every((task) => task.kind === 'classification' && task.validation.size > 0),
      `training.lrSchedule "${lrSchedule}" and modelSelection "${modelSelection}" watch validation accuracy: every task needs a validation split of classification samples`,
    );

    const firstTask = state.completedTasks;
    for (let t = firstTask; t < tasks.length; t++) {
      const task = tasks[t];
      await callbacks.onTaskBegin?.({
        task: t,
        tasks: tasks.length,
        resumed: t === firstTask && (t > 0 || inTask !== null),
      });
      const started = performance.now() - (inTask?.state.elapsedMs ?? 0);
      const iterationMs: number[] = [];
      const batches = new BatchSampler(
        task.train.size,
        spec.training.batchSize,
        stream,
        inTask?.state.sampler,
      );
      const iterations = lengths[t];
      const before = lengths.slice(0, t).reduce((a, n) => a + n, 0);
      const epoch = iterationsPerEpoch(task.train.size, spec.training.batchSize);
      // Both start afresh with every task, as the reference's do (they live with the task's optimiser).
      const plateau = lrSchedule === 'plateau' ? new PlateauScheduler() : null;
      const best = modelSelection === 'best-validation' ? new BestModel(learner) : null;
      learner.beginTask(t, iterations);
      let start = 0;
      if (inTask) {
        const saved = inTask.state;
        const learnerArrays = new Map(
          [...inTask.arrays]
            .filter(([name]) => name.startsWith('learner/'))
            .map(([name, a]) => [name.slice('learner/'.length), a]),
        );
        learner.restoreTaskState(learnerArrays);
        learner.setLearningRates(saved.learningRates);
        if (plateau && saved.plateau) plateau.restore(saved.plateau);
        best?.restoreSaved(saved.bestAccuracy, inTask.arrays);
        start = saved.iteration;
        inTask = null;
      }
      try {
        for (let i = start; i < iterations; i++) {
          if (signal?.aborted) throw new CancelledError();
          const t0 = performance.now();
          const losses = trainOn(
            learner,
            task,
            t,
            i,
            task.train.gather(batches.next(), stream),
            stream,
          );
          if (!Number.isFinite(losses.total)) throw new DivergenceError(t, i);
          const ms = performance.now() - t0;
          iterationMs.push(ms);
          allIterationMs.push(ms);
          const done = before + i + 1;
          await callbacks.onIteration?.({
            task: t,
            tasks: tasks.length,
            iteration: i,
            iterations,
            loss: losses.total,
            taskLoss: losses.taskLoss,
            outputReg: losses.outputReg,
            driftReg: losses.driftReg,
            ms,
            etaMs: median(allIterationMs.slice(-200)) * (totalIterations - done),
          });
          const last = i === iterations - 1;
          const epochEnd = (i + 1) % epoch === 0;
          // Selection looks at epoch ends (and the last iteration, for a length in iterations), the
          // plateau rule at epoch ends only.
          const select = best !== null && (epochEnd || last);
          const schedule = plateau !== null && epochEnd;
          const report =
            ((i + 1) % spec.training.validationEvery === 0 || last) &&
            callbacks.onValidation !== undefined;
          if ((report || select || schedule) && task.validation.size > 0) {
            const accuracy = evaluate(learner, task, task.validation);
            await callbacks.onValidation?.({ task: t, iteration: i, accuracy });
            if (select) best.offer(accuracy);
            if (schedule) learner.setLearningRates(plateau.step(accuracy, learner.learningRates()));
          }
          if (epochEnd && !last && callbacks.onEpochEnd) {
            await callbacks.onEpochEnd({
              task: t,
              tasks: tasks.length,
              epoch: (i + 1) / epoch,
              iteration: i,
              checkpoint: () =>
                encodeCheckpoint(
                  learner,
                  {
                    ...state,
                    rngState: stream.state(),
                    inTask: {
                      iteration: i + 1,
                      sampler: batches.state(),
                      plateau: plateau?.save() ?? null,
                      bestAccuracy: best && best.accuracy > -Infinity ? best.accuracy : null,
                      learningRates: learner.learningRates(),
                      elapsedMs: performance.now() - started,
                    },
                  },
                  {
                    batchNormStats,
                    // The finished tasks' (this task's come at its end).
                    fecam,
                    taskArrays: [
                      ...learner.saveTaskState().map((a) => ({ ...a, name: `learner/${a.name}` })),
                      ...(best?.save() ?? []),
                    ],
                  },
                ),
            });
          }
          if (options.yieldEvery && (i + 1) % options.yieldEvery.iterations === 0)
            await options.yieldEvery.fn();
        }
        // The task's model is its best epoch's; the next task's regularisation targets and theta
        // snapshot are taken from it (method pitfall 7).
        best?.restore();
      } finally {
        best?.dispose();
      }
      learner.endTask();

      state.accuracyMatrix.push(
        tasks.slice(0, t + 1).map((seen) => evaluate(learner, seen, seen.test)),
      );
      const stats = computeBatchNormStats(
        learner,
        task,
        spec.training.batchSize,
        spec.training.seed,
      );
      if (stats) batchNormStats.set(t, stats);
      // Right after the task, from its own training data (exemplar-free: never recomputed), with
      // its running statistics where it has batch norm: as its deployed model computes features.
      if (wantsFecam) fecam[t] = fecamTaskStatistics(learner, task, batchNormStats.get(t));
      // A run resumed from a checkpoint written before the statistics existed has none for its
      // earlier tasks: it keeps no running-statistics matrix rather than a partial one.
      state.runningStatsAccuracyMatrix?.push(
        tasks.slice(0, t + 1).map((seen) =>
          evaluate(learner, seen, seen.test, seen.index, {
            batchNormStats: statsFor(seen.index, t),
          }),
        ),
      );
      state.msPerIteration.push(median(iterationMs));
      state.taskDurationsMs.push(performance.now() - started);
      state.completedTasks = t + 1;
      state.rngState = stream.state();
      let ended = false;
      await callbacks.onTaskEnd?.({
        task: t,
        tasks: tasks.length,
        metrics: summarize(state.accuracyMatrix),
        runningStatsAccuracies: state.runningStatsAccuracyMatrix?.[t] ?? null,
        batchNormStats: stats,
        durationMs: state.taskDurationsMs[t],
        msPerIteration: state.msPerIteration[t],
        checkpoint: encodeCheckpoint(learner, state, { batchNormStats, fecam }),
        exportTask: (k) => {
          assert(!ended, 'exportTask is only valid during onTaskEnd');
          assert(
            Number.isInteger(k) && k >= 0 && k <= t,
            `exportTask: task ${k} has not been trained (tasks 0..${t} have)`,
          );
          const stats = fecam[k];
          return {
            ...exportTask(learner, spec, tasks[k], statsFor(k, t)),
            fecam: stats ? encodeFecam(stats) : null,
          };
        },
      });
      ended = true;
    }

    const several = tasks.length > 1;
    // A checkpoint written without them (by hand, or before they existed) leaves tasks without.
    const fecamReady = tasks.every((_, t) => fecam[t] != null);
    // Task inference stands for predictions without a task id, one image at a time: with batch
    // norm, each task's network runs with its running statistics (a test chunk's own statistics
    // would tell the networks which task the chunk comes from). Without every task's statistics
    // (an old checkpoint's run), the chunks' statistics as the accuracy matrix uses them.
    const runningStats =
      hasBatchNorm && tasks.every((_, t) => batchNormStats.has(t)) ? batchNormStats : undefined;
    const inferred = inferTasks(
      learner,
      several ? tasks : [],
      {
        entropy: wantsEntropy,
        fecam: wantsFecam && fecamReady ? (fecam as FecamTaskStatistics[]) : null,
      },
      runningStats,
    );
    const result: ContinualResult = {
      spec,
      ...summarize(state.accuracyMatrix),
      runningStatsMetrics: state.runningStatsAccuracyMatrix
        ? summarize(state.runningStatsAccuracyMatrix)
        : null,
      msPerIteration: state.msPerIteration,
      taskDurationsMs: state.taskDurationsMs,
      taskInference: inferred.entropy,
      fecamTaskInference: inferred.fecam,
    };
    await callbacks.onTrainEnd?.(result);
    return result;
  } finally {
    learner.dispose();
  }
}

function trainOn(
  learner: Learner,
  task: ContinualTask,
  t: number,
  i: number,
  batch: Batch,
  rng: Random,
): StepLosses {
  const [x, y] = tf.tidy(() => [
    tf.tensor2d(batch.x, [batch.size, task.inputSize]),
    task.kind === 'classification'
      ? (tf.oneHot(tf.tensor1d(batch.y as Int32Array, 'int32'), task.outputSize) as tf.Tensor2D)
      : tf.tensor2d(batch.y as Float32Array, [batch.size, task.outputSize]),
  ]);
  try {
    return learner.trainStep(
      t,
      i,
      x,
      y,
      task.kind === 'classification' ? crossEntropy : meanSquaredError,
      rng,
    );
  } finally {
    tf.dispose([x, y]);
  }
}

/** Mini-batches drawn without replacement, reshuffled every epoch, from the model's random stream. */
class BatchSampler {
  private order: Int32Array;
  private cursor = 0;

  /** With `saved` (a checkpoint within a task) it continues where that sampler stood, drawing nothing. */
  constructor(
    private readonly size: number,
    private readonly batchSize: number,
    private readonly rng: Random,
    saved?: { order: number[]; cursor: number },
  ) {
    assert(size > 0, 'a task has no training samples');
    if (saved) {
      assert(saved.order.length === size, 'the checkpoint was written for another training split');
      this.order = Int32Array.from(saved.order);
      this.cursor = saved.cursor;
    } else this.order = rng.permutation(size);
  }

  state(): { order: number[]; cursor: number } {
    return { order: Array.from(this.order), cursor: this.cursor };
  }

  next(): Int32Array {
    const n = Math.min(this.batchSize, this.size);
    const out = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      if (this.cursor === this.size) {
        this.rng.shuffle(this.order);
        this.cursor = 0;
      }
      out[k] = this.order[this.cursor++];
    }
    return out;
  }
}
