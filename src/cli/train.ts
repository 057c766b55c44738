/**
 * `npm run train -- --spec FILE [--out DIR] [--backend auto|tensorflow-gpu|tensorflow|wasm|cpu]
 *                   [--data-dir DIR] [--resume CHECKPOINT | --continue-from CHECKPOINT]`
 * Environment: RETAIN_BACKEND (default for --backend), RETAIN_DATA_DIR (default for --data-dir).
 *
 * Trains a job spec (the same JSON POST /v1/jobs accepts) on this machine, prints progress, and
 * writes DIR/result.json, DIR/checkpoint.safetensors (after every task, and within a task at an
 * epoch end once a minute has passed since the last one) and per-task exports:
 * DIR/tasks/<t>/mask.safetensors, DIR/tasks/<t>/fecam.safetensors (FeCAM statistics, when the spec
 * infers tasks by FeCAM) and DIR/tasks/<t>/model/{model.json,weights.bin} (task t's at its
 * end, all of them again with the final weights at the end of the last task: `tasksToExport`).
 *
 * --resume continues an interrupted run of the same spec (within a task from an epoch end's
 * checkpoint). --continue-from continues a finished run with new tasks, as POST /v1/jobs with
 * continueFrom does: FILE then holds only the new tasks (`{"benchmark": {"tasks": 1}}`),
 * everything else comes from the checkpoint's spec.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  buildTasks,
  continuationInput,
  continuesSpec,
  dataSeed,
  EngineError,
  Random,
  readCheckpointState,
  resolveSpec,
  runContinualLearning,
  taskCount,
  tasksToExport,
  type JobSpec,
  type ContinualResult,
  type IterationEvent,
  type TaskExport,
} from '../core/index.js';
import { loadEnv } from '../config/env.js';
import { loadRawDataset, resolveDataDir } from '../infra/data/dataset-files.js';
import { BACKEND_CHOICES, selectBackend, type BackendChoice } from '../infra/tf-backend.js';
import { formatDuration } from './duration.js';

const USAGE =
  'usage: npm run train -- --spec FILE [--out DIR] [--backend auto|tensorflow-gpu|tensorflow|wasm|cpu] [--data-dir DIR] [--resume CHECKPOINT | --continue-from CHECKPOINT]';

/** Every this many iterations a loss point goes into result.json's curves. */
const CURVE_EVERY = 10;
/** Least time between checkpoints written within a task (at epoch ends): a minute of work at risk. */
const EPOCH_CHECKPOINT_EVERY_MS = 60_000;

/** The spec of a finished run (its checkpoint) continued with the new tasks of `input`. */
function continuedSpec(checkpoint: Uint8Array, input: unknown, file: string): JobSpec {
  const state = readCheckpointState(checkpoint);
  const total = taskCount(state.spec.benchmark);
  if (state.completedTasks !== total) {
    throw new Error(
      `the run of ${file} stopped after task ${state.completedTasks} of ${total}; finish it with --resume first`,
    );
  }
  const spec = resolveSpec(continuationInput(state.spec, input, `checkpoint ${file}`));
  if (!continuesSpec(spec, state.spec))
    throw new Error(`benchmark.tasks: the new tasks do not fit the network of checkpoint ${file}`);
  return spec;
}

async function main(): Promise<number> {
  const config = loadEnv();
  const { values } = parseArgs({
    options: {
      spec: { type: 'string' },
      out: { type: 'string' },
      backend: { type: 'string', default: config.RETAIN_BACKEND },
      'data-dir': { type: 'string' },
      resume: { type: 'string' },
      'continue-from': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.spec) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  if (!BACKEND_CHOICES.includes(values.backend as BackendChoice)) {
    console.error(`--backend must be one of ${BACKEND_CHOICES.join(', ')}`);
    return 2;
  }

  if (values.resume && values['continue-from']) {
    console.error('--resume and --continue-from exclude each other');
    return 2;
  }
  const startFrom = values.resume ?? values['continue-from'];
  const checkpoint = startFrom ? new Uint8Array(await readFile(startFrom)) : undefined;
  let spec;
  try {
    const input: unknown = JSON.parse(await readFile(values.spec, 'utf8'));
    if ((input as { benchmark?: { kind?: unknown } } | null)?.benchmark?.kind === 'datasets') {
      console.error(
        'benchmarks of kind "datasets" train on uploaded data sets through the API (POST /v1/jobs); the CLI trains the built-in ones',
      );
      return 2;
    }
    spec =
      checkpoint && values['continue-from']
        ? continuedSpec(checkpoint, input, values['continue-from'])
        : resolveSpec(input);
  } catch (err) {
    console.error(`invalid spec ${values.spec}: ${(err as Error).message}`);
    return 2;
  }
  const out = values.out ?? path.join('runs', new Date().toISOString().replace(/[:.]/g, '-'));
  await mkdir(out, { recursive: true });

  const backend = await selectBackend(values.backend as BackendChoice);
  console.log(
    `backend: ${backend.name}${backend.skipped.length ? ` (skipped ${backend.skipped.join('; ')})` : ''}`,
  );

  const raw = await loadRawDataset(
    spec.benchmark.dataset,
    resolveDataDir(values['data-dir'] ?? config.RETAIN_DATA_DIR),
  );
  const tasks = buildTasks(spec.benchmark, raw, new Random(dataSeed(spec.training.seed)));
  console.log(
    `${tasks.length} tasks: ${tasks.map((t) => `${t.name} (${t.train.size} train)`).join(', ')}`,
  );

  const losses: {
    task: number;
    iteration: number;
    loss: number;
    taskLoss: number;
    outputReg: number;
    driftReg: number;
  }[] = [];
  const validation: { task: number; iteration: number; accuracy: number }[] = [];
  const exportPaths: Record<number, ExportPaths> = {};
  const msPerIteration: number[] = [];
  const runningStatsRows: number[][] = [];
  const writeResult = (results: Record<string, unknown>) =>
    writeFile(
      path.join(out, 'result.json'),
      JSON.stringify(
        {
          spec,
          backend: backend.name,
          ...results,
          exports: exportPaths,
          checkpoint: path.join(out, 'checkpoint.safetensors'),
          curves: { loss: losses, validation },
        },
        null,
        2,
      ),
    );
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  let lastPrint = 0;
  let lastCheckpoint = performance.now();

  const result: ContinualResult = await runContinualLearning(spec, {
    tasks,
    signal: controller.signal,
    resumeFrom: checkpoint,
    callbacks: {
      onTaskBegin: ({ task, tasks: n, resumed }) =>
        console.log(`\ntask ${task + 1}/${n}${resumed ? ' (resumed from checkpoint)' : ''}`),
      onIteration: (e) => {
        if (e.iteration % CURVE_EVERY === 0 || e.iteration === e.iterations - 1) {
          losses.push({
            task: e.task,
            iteration: e.iteration,
            loss: e.loss,
            taskLoss: e.taskLoss,
            outputReg: e.outputReg,
            driftReg: e.driftReg,
          });
        }
        const now = Date.now();
        if (now - lastPrint > 1000 || e.iteration === e.iterations - 1) {
          lastPrint = now;
          process.stdout.write(`\r${progressLine(e)}`);
        }
      },
      onValidation: (v) => {
        validation.push(v);
      },
      onEpochEnd: async (e) => {
        // Tasks measured in epochs only (see the service's training loop for why).
        if (spec.training.epochsPerTask === null) return;
        if (performance.now() - lastCheckpoint < EPOCH_CHECKPOINT_EVERY_MS) return;
        await writeFile(path.join(out, 'checkpoint.safetensors'), e.checkpoint());
        lastCheckpoint = performance.now();
      },
      onTaskEnd: async (e) => {
        const row = e.metrics.accuracyMatrix[e.task].map((a) => (100 * a).toFixed(2)).join('  ');
        console.log(
          `\ntask ${e.task + 1} done in ${(e.durationMs / 1000).toFixed(1)} s, ${e.msPerIteration.toFixed(1)} ms/iteration; test accuracy: ${row}`,
        );
        await writeFile(path.join(out, 'checkpoint.safetensors'), e.checkpoint);
        lastCheckpoint = performance.now();
        for (const k of tasksToExport(e)) exportPaths[k] = await writeExport(out, e.exportTask(k));
        // Partial results after every task, so a long run that stops early still leaves numbers.
        msPerIteration.push(e.msPerIteration);
        if (e.runningStatsAccuracies) runningStatsRows.push(e.runningStatsAccuracies);
        await writeResult({
          ...e.metrics,
          ...(e.runningStatsAccuracies ? { runningStatsAccuracyRows: runningStatsRows } : {}),
          msPerIteration,
          complete: false,
        });
      },
    },
  });

  await writeResult({
    accuracyMatrix: result.accuracyMatrix,
    averageAccuracy: result.averageAccuracy,
    backwardTransfer: result.backwardTransfer,
    forgetting: result.forgetting,
    msPerIteration: result.msPerIteration,
    taskDurationsMs: result.taskDurationsMs,
    taskInference: result.taskInference,
    fecamTaskInference: result.fecamTaskInference,
    // Targets with batch norm: the same metrics with each task's running statistics.
    runningStats: result.runningStatsMetrics,
    complete: true,
  });
  console.log(
    `\naverage accuracy ${(100 * result.averageAccuracy).toFixed(2)} %, BWT ${fmt(result.backwardTransfer)}, forgetting ${fmt(result.forgetting)}`,
  );
  if (result.runningStatsMetrics) {
    const r = result.runningStatsMetrics;
    console.log(
      `with each task's running batch-norm statistics: average accuracy ${(100 * r.averageAccuracy).toFixed(2)} %, BWT ${fmt(r.backwardTransfer)}, forgetting ${fmt(r.forgetting)}`,
    );
  }
  if (result.taskInference) {
    console.log(
      `task inference by entropy: task ${(100 * result.taskInference.taskAccuracy).toFixed(2)} %, class ${(100 * result.taskInference.classAccuracy).toFixed(2)} %`,
    );
  }
  if (result.fecamTaskInference) {
    console.log(
      `task inference by FeCAM: task ${(100 * result.fecamTaskInference.taskAccuracy).toFixed(2)} %, class ${(100 * result.fecamTaskInference.classAccuracy).toFixed(2)} %`,
    );
  }
  console.log(`wrote ${path.join(out, 'result.json')}`);
  return 0;
}

function progressLine(e: IterationEvent): string {
  const parts = [
    `task ${e.task + 1}/${e.tasks}`,
    `iter ${e.iteration + 1}/${e.iterations}`,
    `loss ${e.loss.toFixed(4)}`,
  ];
  if (e.outputReg || e.driftReg)
    parts.push(
      `(task ${e.taskLoss.toFixed(4)}, out-reg ${e.outputReg.toExponential(2)}, L1 ${e.driftReg.toFixed(2)})`,
    );
  parts.push(`${e.ms.toFixed(0)} ms/it`, `ETA ${formatDuration(e.etaMs)}`);
  return parts.join('  ').padEnd(110);
}

const fmt = (v: number | null) => (v === null ? 'n/a' : `${(100 * v).toFixed(2)} pp`);

/**
 * Where a task's exports went; `model` is null when the target has no LayersModel export
 * (`modelUnavailable` says why).
 */
interface ExportPaths {
  mask: string | null;
  fecam?: string;
  model: string | null;
  modelUnavailable?: string;
}

async function writeExport(out: string, x: TaskExport): Promise<ExportPaths> {
  const dir = path.join(out, 'tasks', String(x.task));
  await mkdir(dir, { recursive: true });
  let mask: string | null = null;
  if (x.mask) {
    mask = path.join(dir, 'mask.safetensors');
    await writeFile(mask, x.mask);
  }
  let fecam: string | undefined;
  if (x.fecam) {
    fecam = path.join(dir, 'fecam.safetensors');
    await writeFile(fecam, x.fecam);
  }
  if (!x.model)
    return { mask, fecam, model: null, modelUnavailable: x.modelUnavailable ?? undefined };
  await mkdir(path.join(dir, 'model'), { recursive: true });
  const model = path.join(dir, 'model', 'model.json');
  await writeFile(model, JSON.stringify(x.model.modelJson));
  await writeFile(path.join(dir, 'model', x.model.weightsFileName), x.model.weights);
  return { mask, fecam, model };
}

main().then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof EngineError) {
      console.error(`\n${err.code}: ${err.message}`);
      process.exit(err.code === 'CANCELLED' ? 130 : 1);
    }
    console.error(err);
    process.exit(1);
  },
);
