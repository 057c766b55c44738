/**
 * A prediction thread: holds task models (rebuilt from exports, on its own TF.js backend) in a
 * cache the main thread steers, and answers predict requests. See thread-predictor.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeFecam, EngineError, FecamScorer, predict, TaskModel } from '../../core/index.js';
import { selectBackend, type BackendChoice } from '../tf-backend.js';
import type { PredictReply, PredictRequest } from './thread-predictor.js';

const port = parentPort!;
const backend = await selectBackend((workerData as { backend: BackendChoice }).backend).catch(() =>
  selectBackend('cpu'),
);
/** Each cached task model with its FeCAM scorer (null: the task has no FeCAM statistics). */
const models = new Map<string, { model: TaskModel; fecam: FecamScorer | null }>();

function answer(req: PredictRequest): PredictReply {
  for (const key of req.evict) {
    const cached = models.get(key);
    cached?.model.dispose();
    cached?.fecam?.dispose();
    models.delete(key);
  }
  for (const m of req.models) {
    if (m.artifact && !models.has(m.key)) {
      const model = TaskModel.fromExport(m.artifact.modelJson, m.artifact.weights);
      const fecam = m.artifact.fecam ? new FecamScorer(decodeFecam(m.artifact.fecam)) : null;
      models.set(m.key, { model, fecam });
    }
  }
  const cached = req.models.map((m) => {
    const entry = models.get(m.key);
    if (!entry) throw new Error(`model ${m.key} is neither cached nor sent`);
    return entry;
  });
  const used = cached.map((c) => c.model);
  const { inputSize } = used[0];
  const input = (used[0].metadata.input ?? {}) as { rawScale?: number };
  const scale = input.rawScale ?? 1;
  const x = new Float32Array(req.inputs.length * inputSize);
  req.inputs.forEach((row, i) => {
    if (row.length !== inputSize) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `inputs[${i}] has ${row.length} values; the model takes ${inputSize} (one per input feature or pixel, row-major)`,
      );
    }
    for (let j = 0; j < inputSize; j++) x[i * inputSize + j] = row[j] * scale;
  });
  const predictions = predict(
    used,
    x,
    req.inputs.length,
    req.task,
    cached.map((c) => c.fecam),
  );
  const labels = used.map((m) => ({
    globalLabels: (m.metadata.globalLabels as number[] | undefined) ?? [],
    classNames: (m.metadata.classNames as string[] | undefined) ?? null,
  }));
  return { id: req.id, ok: true, predictions, labels };
}

port.on('message', (req: PredictRequest) => {
  let reply: PredictReply;
  try {
    reply = answer(req);
  } catch (err) {
    const code = err instanceof EngineError ? err.code : null;
    reply = {
      id: req.id,
      ok: false,
      code,
      message: code ? (err as Error).message : ((err as Error).stack ?? String(err)),
    };
  }
  port.postMessage(reply);
});
port.postMessage({ ready: true, backend: backend.name });
