/**
 * HyperMask masks of the trained tasks: per layer, the share of weights the task switches off
 * (exact zeros), and a histogram of the values it keeps. The mask file is fetched with the key
 * and parsed here (masks/mask-summary.ts).
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { apiFetch } from '../api/client.js';
import type { TaskLinks } from '../api/types.js';
import { percent } from '../format.js';
import { HISTOGRAM_BINS, summarizeMask, type MaskSummary } from '../masks/mask-summary.js';
import { Chart } from './chart.js';
import { taskColor } from './colors.js';

const BARS = uPlot.paths.bars!({ size: [0.95, 100] });

export function MaskPanel({ tasks }: { tasks: TaskLinks[] }) {
  const withMask = tasks.filter((t) => t.mask);
  const [task, setTask] = useState(0);
  const link = withMask.find((t) => t.task === task) ?? withMask[0];
  if (!link) return <p class="muted">No mask yet: one appears when a task has finished.</p>;
  return (
    <div>
      <div class="tabs" role="tablist">
        {withMask.map((t) => (
          <button
            type="button"
            role="tab"
            aria-selected={t.task === link.task}
            class={t.task === link.task ? 'tab active' : 'tab'}
            onClick={() => setTask(t.task)}
          >
            task {t.task}
          </button>
        ))}
      </div>
      <MaskOfTask key={link.mask} task={link.task} url={link.mask!} />
    </div>
  );
}

function MaskOfTask({ task, url }: { task: number; url: string }) {
  const [summary, setSummary] = useState<MaskSummary | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [layer, setLayer] = useState(-1);
  useEffect(() => {
    let live = true;
    apiFetch(url)
      .then((res) => res.arrayBuffer())
      .then((buffer) => live && setSummary(summarizeMask(new Uint8Array(buffer))))
      .catch((err: Error) => live && setError(err.message));
    return () => {
      live = false;
    };
  }, [url]);

  if (error)
    return (
      <p class="error-text">
        Could not read the mask of task {task}: {error}
      </p>
    );
  if (!summary) return <p class="muted">Loading the mask of task {task}…</p>;
  const shown = layer < 0 ? summary.total : summary.layers[layer];
  return (
    <div class="mask" data-testid="mask-summary" data-task={task}>
      <table class="data">
        <thead>
          <tr>
            <th scope="col">layer</th>
            <th scope="col">shape</th>
            <th scope="col">values</th>
            <th scope="col">zeros (%)</th>
            <th scope="col" class="wide" />
          </tr>
        </thead>
        <tbody>
          {summary.layers.map((l) => (
            <tr data-layer={l.name}>
              <th scope="row">{l.name}</th>
              <td>[{l.shape.join(', ')}]</td>
              <td class="num">{l.size.toLocaleString('en')}</td>
              <td class="num sparsity" data-value={String(l.sparsity)}>
                {percent(l.sparsity)}
              </td>
              <td class="wide">
                <div class="meter">
                  <div class="meter-fill" style={{ width: `${l.sparsity * 100}%` }} />
                </div>
              </td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row">all masked</th>
            <td />
            <td class="num">{summary.total.size.toLocaleString('en')}</td>
            <td class="num" data-value={String(summary.total.sparsity)}>
              {percent(summary.total.sparsity)}
            </td>
            <td />
          </tr>
        </tfoot>
      </table>
      <label class="inline">
        Histogram of{' '}
        <select
          value={layer}
          onChange={(e) => setLayer(Number((e.target as HTMLSelectElement).value))}
        >
          <option value={-1}>all layers</option>
          {summary.layers.map((l, i) => (
            <option value={i}>{l.name}</option>
          ))}
        </select>
      </label>
      <MaskHistogram counts={shown.histogram.counts} zeros={shown.zeros} task={task} />
    </div>
  );
}

function MaskHistogram({ counts, zeros, task }: { counts: number[]; zeros: number; task: number }) {
  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({
      title: `Non-zero mask values of task ${task} (${zeros.toLocaleString('en')} zeros not shown)`,
      scales: { x: { time: false, range: [0, 1] } },
      axes: [{ label: 'mask value |tanh(h)|' }, { label: 'values' }],
      legend: { show: false },
      series: [
        {},
        {
          label: 'values',
          fill: `${taskColor(task)}99`,
          stroke: taskColor(task),
          paths: BARS,
          points: { show: false },
        },
      ],
    }),
    [task, zeros],
  );
  const data = useMemo(
    () => [counts.map((_, b) => (b + 0.5) / HISTOGRAM_BINS), counts] as uPlot.AlignedData,
    [counts],
  );
  return <Chart options={options} data={data} height={200} />;
}
