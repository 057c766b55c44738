/** The engine's public API: the only import path for the service, workers and CLI. */
export * from './spec.js';
export * from './errors.js';
export { describeViolation, unionMemberFor, type SchemaViolation } from './schema-errors.js';
export { Random } from './random.js';
export type * from './data/types.js';
export type * from './continual/types.js';
export { parseIdx, encodeIdx, imageSetFromIdx } from './data/idx.js';
export { buildTasks } from './data/benchmarks.js';
export { buildDatasetTasks } from './data/dataset-tasks.js';
export {
  runContinualLearning,
  modelSeed,
  dataSeed,
  tasksToExport,
} from './continual/run-continual-learning.js';
export { readCheckpointState, CHECKPOINT_FORMAT, type CheckpointState } from './io/checkpoint.js';
export { encodeSafetensors, decodeSafetensors, type NamedArray } from './io/safetensors.js';
export { MASK_FORMAT, WEIGHTS_FILE } from './io/export.js';
export type { BatchNormStats } from './target-network/target-network.js';
export {
  plannedTaskIterations,
  progressIterations,
  taskIterations,
  iterationsPerEpoch,
  PLATEAU,
  PlateauScheduler,
} from './continual/schedule.js';
export { averageAccuracy, backwardTransfer, forgetting, median } from './metrics/metrics.js';
export { TaskModel, predict, type Prediction } from './inference/task-models.js';
export {
  decodeFecam,
  FecamScorer,
  FECAM_FORMAT,
  type FecamTaskStatistics,
} from './inference/fecam.js';
export { continuationInput, continuesSpec, sameJson } from './spec-continuation.js';
