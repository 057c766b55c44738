import * as tf from '@tensorflow/tfjs-core';
import { EngineError } from '../errors.js';
import { fecamFromTensors, fecamTensors, type FecamTaskStatistics } from '../inference/fecam.js';
import type { Learner } from '../methods/learner.js';
import { continuesSpec, sameJson } from '../spec-continuation.js';
import { SPEC_VERSION, upgradeStoredSpec, type JobSpec } from '../spec.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

/**
 * Checkpoint format (version 1): a safetensors file (see safetensors.ts) holding every model
 * variable under its stable name ("target/dense_1/kernel", "hnet/head_0_0/kernel",
 * "hnet/embedding_3", ...), with `__metadata__` = { format: "retain-checkpoint", version: "1",
 * state: JSON of `CheckpointState` }.
 *
 * That is all a resumed run needs: optimisers are re-created at every task, the regularisation
 * targets (hypernetwork outputs for earlier tasks, theta at the start of the task) are recomputed
 * from these weights at the start of the next task, and the random stream continues from
 * `rngState`. So a run resumed after task k ends with the results of an uninterrupted run.
 *
 * FeCAM statistics of the finished tasks (when the spec infers tasks by FeCAM) are tensors too,
 * `fecam/task_<t>/class_<c>/mean`, `.../precision` and `.../count` (fecam.ts): they come from each
 * task's training data under its weights right after it and cannot be recomputed later.
 */
export interface CheckpointState {
  /** Tasks finished; training continues with task index `completedTasks`. */
  completedTasks: number;
  rngState: number[];
  /** The resolved spec the run was started with; resuming with another spec is refused. */
  spec: JobSpec;
  accuracyMatrix: number[][];
  msPerIteration: number[];
  taskDurationsMs: number[];
}

export const CHECKPOINT_FORMAT = 'retain-checkpoint';

/** Prefix of the FeCAM statistics' tensor names in a checkpoint. */
const FECAM_PREFIX = 'fecam/';

export function encodeCheckpoint(
  learner: Learner,
  state: CheckpointState,
  fecam: (FecamTaskStatistics | null)[] = [],
): Uint8Array {
  const tensors = learner.namedVariables().map(({ name, variable }) => ({
    name,
    shape: variable.shape,
    data: variable.dataSync() as Float32Array,
  }));
  fecam.forEach((stats, t) => {
    if (stats) tensors.push(...fecamTensors(stats, `${FECAM_PREFIX}task_${t}/`));
  });
  return encodeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    version: '1',
    specVersion: String(SPEC_VERSION),
    state: JSON.stringify(state),
  });
}

/**
 * Reads the state without touching any model (for inspection). The spec comes back as of
 * `SPEC_VERSION`: checkpoints record the spec version they were written with (those written
 * before they did hold version 1 specs) and older ones are upgraded.
 */
export function readCheckpointState(bytes: Uint8Array): CheckpointState {
  const { metadata } = decodeSafetensors(bytes);
  if (metadata.format !== CHECKPOINT_FORMAT || metadata.version !== '1') {
    throw new EngineError('INVALID_CHECKPOINT', `not a version 1 ${CHECKPOINT_FORMAT} file`);
  }
  const specVersion = metadata.specVersion === undefined ? 1 : Number(metadata.specVersion);
  if (!Number.isInteger(specVersion) || specVersion > SPEC_VERSION) {
    throw new EngineError(
      'INVALID_CHECKPOINT',
      `the checkpoint's spec is of version ${metadata.specVersion}; this code reads up to version ${SPEC_VERSION}`,
    );
  }
  const state = JSON.parse(metadata.state) as CheckpointState;
  return { ...state, spec: upgradeStoredSpec(state.spec, specVersion) };
}

/**
 * Loads the weights into `learner` and returns the saved state. `spec` must be the checkpoint's
 * spec, or that spec with more tasks appended (a continued job, see `continuesSpec`). The learner
 * gets the embeddings of the checkpoint's completed tasks first; later ones are created as their
 * tasks begin.
 */
export function restoreCheckpoint(
  bytes: Uint8Array,
  learner: Learner,
  spec: JobSpec,
): CheckpointState {
  const state = readCheckpointState(bytes);
  if (!sameJson(state.spec, spec) && !continuesSpec(spec, state.spec)) {
    throw new EngineError('INVALID_CHECKPOINT', 'the checkpoint was written for a different spec');
  }
  const saved = new Map(
    decodeSafetensors(bytes, (name) => !name.startsWith(FECAM_PREFIX)).tensors.map((t) => [
      t.name,
      t,
    ]),
  );
  // Checkpoints written before embeddings were created per task hold every task's embedding
  // (trained or not); restoring all of them resumes such a job as it would have gone on.
  const embeddings = [...saved.keys()].filter((name) => name.startsWith('hnet/embedding_')).length;
  learner.hnet?.ensureTasks(Math.max(state.completedTasks, embeddings));
  const vars = learner.namedVariables();
  if (saved.size !== vars.length) {
    throw new EngineError(
      'INVALID_CHECKPOINT',
      `checkpoint has ${saved.size} tensors, the model ${vars.length}`,
    );
  }
  for (const { name, variable } of vars) {
    const t = saved.get(name);
    if (!t || t.shape.join(',') !== variable.shape.join(',')) {
      throw new EngineError(
        'INVALID_CHECKPOINT',
        `checkpoint tensor ${name} is missing or has another shape`,
      );
    }
    tf.tidy(() => variable.assign(tf.tensor(t.data, t.shape, 'float32')));
  }
  return state;
}

/**
 * The FeCAM statistics a checkpoint holds, by task (null for a task without them: none were
 * wanted, or the checkpoint predates them).
 */
export function readCheckpointFecam(bytes: Uint8Array): (FecamTaskStatistics | null)[] {
  const { tensors } = decodeSafetensors(bytes, (name) => name.startsWith(FECAM_PREFIX));
  const tasks = new Set<number>();
  for (const t of tensors) {
    const m = /^fecam\/task_(\d+)\//.exec(t.name);
    if (m) tasks.add(Number(m[1]));
  }
  const out: (FecamTaskStatistics | null)[] = [];
  for (const t of [...tasks].sort((a, b) => a - b)) {
    while (out.length < t) out.push(null);
    out[t] = fecamFromTensors(tensors, `${FECAM_PREFIX}task_${t}/`);
  }
  return out;
}
