/**
 * Predictions from a job's trained task models: with a task id, that task's class
 * probabilities; without, the task inferred per input by the job's rule: FeCAM (method section
 * 7.3) when the job kept FeCAM statistics for every trained task (spec
 * `evaluation.taskInference` "fecam" or "both"), lowest softmax entropy (section 7.2) otherwise.
 * Inputs are in the units of the data (pixels 0-255 for images and IDX); each model's metadata
 * says how it scales them. Models are the job's exports, so a prediction here
 * equals what the downloaded model gives.
 */
import { ServiceError } from '../errors.js';
import { readAll } from '../stored-bytes.js';
import type { ImageDecoder, JobRecord, JobRepository, Predictor } from '../ports.js';

export interface PredictInput {
  inputs: number[][];
  task?: number;
}

export interface PredictImageInput {
  /** A PNG or JPEG file of the size the job's models take. */
  image: Uint8Array;
  task?: number;
}

export interface PredictionView {
  /** The task that answered. */
  task: number;
  /** Whether that task was inferred (no task id given). */
  inferred: boolean;
  /** What chose the task: "given" (the request's task id), "fecam" or "entropy". */
  rule: 'given' | 'fecam' | 'entropy';
  /** Class index local to the task, its name and global label. */
  class: number;
  className: string;
  globalLabel: number | null;
  probabilities: number[];
  /** Entropy of each trained task's output (index = task), when the task was inferred by entropy. */
  entropies: number[] | null;
  /** Each trained task's smallest Mahalanobis distance to a class prototype (index = task), when inferred by FeCAM. */
  distances: number[] | null;
}

export class PredictionService {
  constructor(
    private readonly jobs: JobRepository,
    private readonly predictor: Predictor,
    private readonly images: ImageDecoder,
  ) {}

  /** Like `predict`, for one image file: decoded to the raw pixels the job's models take. */
  async predictImage(
    tenantId: string,
    jobId: string,
    input: PredictImageInput,
  ): Promise<{ tasksAvailable: number; predictions: PredictionView[] }> {
    const job = await this.job(tenantId, jobId);
    const modelJson = await this.jobs.modelJson(jobId, 0);
    if (!modelJson) throw await this.noModel(job, 0);
    const retain = ((modelJson.userDefinedMetadata as Record<string, unknown> | undefined)
      ?.retain ?? {}) as { input?: { shape?: number[] } };
    const shape = retain.input?.shape;
    if (!shape || shape.length !== 3 || ![1, 3].includes(shape[2])) {
      throw new ServiceError(
        'INVALID_INPUT',
        `job ${jobId} does not train on images; send {"inputs": [[...]]} as JSON`,
      );
    }
    const pixels = await this.images.decode(input.image, shape as [number, number, number]);
    return this.predictFor(job, { inputs: [pixels], task: input.task });
  }

  async predict(
    tenantId: string,
    jobId: string,
    input: PredictInput,
  ): Promise<{ tasksAvailable: number; predictions: PredictionView[] }> {
    return this.predictFor(await this.job(tenantId, jobId), input);
  }

  /** Predictions run the exported models: a target without one (ResNet) cannot predict here. */
  private async noModel(job: JobRecord, task: number): Promise<ServiceError> {
    const reason = await this.jobs.modelUnavailable(job.id, task);
    if (reason)
      return new ServiceError(
        'MODEL_NOT_AVAILABLE',
        `job ${job.id} has no TF.js models to predict with: ${reason}`,
      );
    return new ServiceError(
      'ARTIFACT_NOT_READY',
      `job ${job.id} has no trained task ${task} yet (${job.completedTasks} of ${job.tasksTotal} done)`,
    );
  }

  private async job(tenantId: string, jobId: string): Promise<JobRecord> {
    const job = await this.jobs.get(tenantId, jobId);
    if (!job) throw new ServiceError('JOB_NOT_FOUND', `job ${jobId} does not exist`);
    return job;
  }

  private async predictFor(
    job: JobRecord,
    input: PredictInput,
  ): Promise<{ tasksAvailable: number; predictions: PredictionView[] }> {
    const jobId = job.id;
    // Tasks trained so far, in order: a running job predicts with what it has.
    const versions = (await this.jobs.artifactVersions(jobId)).filter((v, i) => v.task === i);
    if (versions.length === 0)
      throw new ServiceError(
        'ARTIFACT_NOT_READY',
        `job ${jobId} has no trained task yet (${job.completedTasks} of ${job.tasksTotal} done)`,
      );
    if (input.task !== undefined) {
      if (input.task >= job.tasksTotal)
        throw new ServiceError(
          'TASK_NOT_FOUND',
          `task ${input.task} does not exist; job ${jobId} has tasks 0..${job.tasksTotal - 1}`,
        );
      if (input.task >= versions.length)
        throw new ServiceError(
          'ARTIFACT_NOT_READY',
          `task ${input.task} of job ${jobId} has not been trained yet (${versions.length} of ${job.tasksTotal} done)`,
        );
    }
    const models = versions.map((v) => ({
      key: `${jobId}/${v.task}/${v.version}`,
      load: async () => {
        const model = await this.jobs.model(jobId, v.task);
        if (!model) throw await this.noModel(job, v.task);
        // Only a request without a task id uses them; loaded with the model, they are cached with it.
        const fecam = await this.jobs.fecam(jobId, v.task);
        return {
          ...model,
          weights: await readAll(model.weights),
          fecam: fecam ? await readAll(fecam) : null,
        };
      },
    }));
    const batch = await this.predictor.predict(models, input.inputs, input.task ?? null);
    return {
      tasksAvailable: versions.length,
      predictions: batch.predictions.map((p) => {
        const { globalLabels, classNames } = batch.labels[p.task];
        const globalLabel = globalLabels[p.class] ?? null;
        return {
          task: p.task,
          inferred: input.task === undefined,
          rule: p.rule,
          class: p.class,
          className: classNames?.[p.class] ?? String(globalLabel ?? p.class),
          globalLabel,
          probabilities: p.probabilities,
          entropies: p.entropies,
          distances: p.distances,
        };
      }),
    };
  }
}
