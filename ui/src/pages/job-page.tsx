/**
 * One job: status and progress live (stream or polling, live/follow-job.ts), the accuracy matrix
 * as a heatmap, loss and validation curves per task, masks, task inference and downloads. Numbers
 * come from GET /v1/jobs/:id/metrics, read again whenever a task or the job ends.
 */
import { useEffect, useState } from 'preact/hooks';
import { apiFetch, download, getJson, postJson, saveBlob } from '../api/client.js';
import {
  FINAL_STATUSES,
  type CurveKind,
  type CurvePoint,
  type Job,
  type JobMetrics,
  type TaskLinks,
} from '../api/types.js';
import { DownloadButton } from '../components/download-button.js';
import { AccuracyHeatmap } from '../components/heatmap.js';
import { MaskPanel } from '../components/mask-panel.js';
import { ProgressBar } from '../components/progress-bar.js';
import { StatusBadge } from '../components/status-badge.js';
import { TaskInferenceTable } from '../components/task-inference.js';
import { TrainingCurve } from '../components/training-curves.js';
import { benchmarkLabel, dateTime, formatDuration, percent, points } from '../format.js';
import { mergePoints } from '../live/curves.js';
import { followJob, POLL_MS, type LiveMode } from '../live/follow-job.js';
import { useCoalesced } from '../live/use-coalesced.js';

/** Points per metrics request, and at most this many pages per curve. */
const CURVE_PAGE = 5000;
const MAX_CURVE_PAGES = 20;

type Curves = Record<CurveKind, CurvePoint[]>;

async function readCurve(
  id: string,
  kind: CurveKind,
): Promise<{ metrics: JobMetrics; points: CurvePoint[] }> {
  let metrics: JobMetrics | null = null;
  const all: CurvePoint[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_CURVE_PAGES; page++) {
    const query: string = `curve=${kind}&limit=${CURVE_PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const m: JobMetrics = await getJson<JobMetrics>(`/v1/jobs/${id}/metrics?${query}`);
    metrics ??= m;
    all.push(...m.curve.points);
    cursor = m.curve.nextCursor;
    if (!cursor) break;
  }
  return { metrics: metrics!, points: all };
}

export function JobPage({ id }: { id: string }) {
  const [job, setJob] = useState<Job | null>(null);
  const [metrics, setMetrics] = useState<JobMetrics | null>(null);
  const [curves, setCurves] = useState<Curves>({ loss: [], validation: [] });
  const [mode, setMode] = useState<LiveMode | null>(null);
  const [error, setError] = useState<string | null>(null);

  const reloadMetrics = useCoalesced(async () => {
    const [loss, validation] = await Promise.all([
      readCurve(id, 'loss'),
      readCurve(id, 'validation'),
    ]);
    setMetrics(loss.metrics);
    setCurves((c) => ({
      loss: mergePoints(c.loss, loss.points),
      validation: mergePoints(c.validation, validation.points),
    }));
  });

  useEffect(() => {
    let stop = () => {};
    let live = true;
    getJson<Job>(`/v1/jobs/${id}`)
      .then((first) => {
        if (!live) return;
        setJob(first);
        reloadMetrics();
        if (FINAL_STATUSES.has(first.status)) return;
        stop = followJob(first, {
          mode: setMode,
          job: setJob,
          progress: (progress) => setJob((j) => j && { ...j, progress }),
          status: (status) => setJob((j) => j && { ...j, status }),
          point: (kind, p) => setCurves((c) => ({ ...c, [kind]: mergePoints(c[kind], [p]) })),
          changed: reloadMetrics,
        });
      })
      .catch((err: Error) => live && setError(err.message));
    return () => {
      live = false;
      stop();
    };
  }, [id]);

  if (error) return <p class="error-text">{error}</p>;
  if (!job) return <p class="muted">Loading the job…</p>;
  const final = FINAL_STATUSES.has(job.status);
  const tasks = job.progress.tasksTotal;
  const cancel = () =>
    postJson<Job>(job.links.cancel).then(setJob, (err: Error) => setError(err.message));

  return (
    <article class="job" data-job={job.id}>
      <header class="job-header">
        <h1>{job.name ?? 'Job'}</h1>
        <code class="muted">{job.id}</code>
        <StatusBadge status={job.status} />
        {!final && (
          <span class="muted live" data-testid="live-mode" data-mode={mode ?? ''}>
            {mode === 'stream'
              ? 'live: event stream'
              : mode === 'polling'
                ? `live: polling every ${POLL_MS / 1000} s`
                : ''}
          </span>
        )}
        {!final && (
          <button type="button" class="secondary" onClick={() => void cancel()}>
            Cancel job
          </button>
        )}
      </header>
      <ProgressBar job={job} />
      {job.error && (
        <p class="error-box" role="alert">
          <strong>{job.error.code}</strong>: {job.error.message}
        </p>
      )}
      <dl class="facts">
        <dt>method</dt>
        <dd>{job.spec.method}</dd>
        <dt>benchmark</dt>
        <dd>{benchmarkLabel(job)}</dd>
        <dt>length of a task</dt>
        <dd>
          {job.spec.training.epochsPerTask != null
            ? `${job.spec.training.epochsPerTask} epochs (about ${job.progress.iterationsPerTask} iterations)`
            : `${job.spec.training.iterationsPerTask} iterations`}
        </dd>
        <dt>backend</dt>
        <dd>{job.backend ?? '–'}</dd>
        <dt>submitted</dt>
        <dd>{dateTime(job.createdAt)}</dd>
        {job.finishedAt && (
          <>
            <dt>finished</dt>
            <dd>{dateTime(job.finishedAt)}</dd>
          </>
        )}
        {job.continueFrom && (
          <>
            <dt>continues</dt>
            <dd>
              <a href={`#/jobs/${job.continueFrom}`}>{job.continueFrom.slice(0, 8)}</a> (
              {job.inheritedTasks} tasks taken over)
            </dd>
          </>
        )}
      </dl>

      <section>
        <h2>Accuracy</h2>
        {metrics && (
          <dl class="facts" data-testid="summary">
            <dt>average accuracy</dt>
            <dd data-value={String(metrics.averageAccuracy)}>
              {metrics.averageAccuracy === null ? '–' : `${percent(metrics.averageAccuracy)} %`}
            </dd>
            <dt>backward transfer</dt>
            <dd>{points(metrics.backwardTransfer)}</dd>
            <dt>forgetting</dt>
            <dd>{points(metrics.forgetting)}</dd>
            {metrics.runningStats && (
              <>
                <dt title="each task's batch norm with the running statistics its model predicts with, one input at a time; the figures above normalise each test batch by its own statistics">
                  average accuracy, running batch-norm statistics
                </dt>
                <dd
                  data-testid="running-stats-average"
                  data-value={String(metrics.runningStats.averageAccuracy)}
                >
                  {`${percent(metrics.runningStats.averageAccuracy)} %`}
                </dd>
              </>
            )}
          </dl>
        )}
        {metrics ? (
          <AccuracyHeatmap matrix={metrics.accuracyMatrix} />
        ) : (
          <p class="muted">Loading metrics…</p>
        )}
      </section>

      <section>
        <h2>Training curves</h2>
        <div class="charts">
          <TrainingCurve
            title="Loss"
            unit="loss"
            points={curves.loss}
            iterationsPerTask={job.progress.iterationsPerTask}
            tasks={tasks}
          />
          <TrainingCurve
            title="Validation accuracy"
            unit="accuracy"
            points={curves.validation}
            iterationsPerTask={job.progress.iterationsPerTask}
            tasks={tasks}
          />
        </div>
      </section>

      <section>
        <h2>Tasks and downloads</h2>
        <TaskTable job={job} metrics={metrics} />
      </section>

      {job.spec.method === 'hypermask' && (
        <section>
          <h2>Masks</h2>
          <MaskPanel tasks={job.links.tasks} />
        </section>
      )}

      <section>
        <h2>Task inference</h2>
        {job.status === 'succeeded' ? (
          <>
            <TaskInferenceTable rule="fecam" result={metrics?.fecamTaskInference ?? null} />
            <TaskInferenceTable rule="entropy" result={metrics?.taskInference ?? null} />
          </>
        ) : (
          <p class="muted">After the last task.</p>
        )}
      </section>
    </article>
  );
}

function TaskTable({ job, metrics }: { job: Job; metrics: JobMetrics | null }) {
  if (!job.links.tasks.length) return <p class="muted">Downloads appear as tasks finish.</p>;
  const name = (t: number, what: string) => `job-${job.id.slice(0, 8)}-task-${t}-${what}`;
  return (
    <table class="data" data-testid="task-table">
      <thead>
        <tr>
          <th scope="col">task</th>
          <th scope="col">training time</th>
          <th scope="col">ms per iteration</th>
          <th scope="col">downloads</th>
        </tr>
      </thead>
      <tbody>
        {job.links.tasks.map((t) => (
          <tr data-task={t.task}>
            <th scope="row">task {t.task}</th>
            <td class="num">
              {metrics?.taskDurationsMs[t.task] !== undefined
                ? formatDuration(metrics.taskDurationsMs[t.task])
                : ''}
            </td>
            <td class="num">
              {metrics?.msPerIteration[t.task] !== undefined
                ? metrics.msPerIteration[t.task].toFixed(1)
                : ''}
            </td>
            <td>
              {t.mask && (
                <DownloadButton
                  label="mask.safetensors"
                  run={() => download(t.mask!, name(t.task, 'mask.safetensors'))}
                />
              )}
              <DownloadButton
                label="model.json"
                run={() =>
                  downloadModelJson(t, name(t.task, 'model.json'), name(t.task, 'weights.bin'))
                }
              />
              <DownloadButton
                label="weights.bin"
                run={() => download(weightsUrl(t), name(t.task, 'weights.bin'))}
              />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const weightsUrl = (t: TaskLinks) => t.model.replace(/model\.json$/, 'weights.bin');

/**
 * model.json with its manifest pointing at the weights file under the name it is saved with, so
 * the two downloads load as they are (tf.loadLayersModel with tf.io.browserFiles, or from a folder).
 */
async function downloadModelJson(
  t: TaskLinks,
  filename: string,
  weightsName: string,
): Promise<void> {
  const model = (await (await apiFetch(t.model)).json()) as {
    weightsManifest: { paths: string[] }[];
  };
  for (const group of model.weightsManifest) group.paths = [weightsName];
  saveBlob(new Blob([JSON.stringify(model)], { type: 'application/json' }), filename);
}
