/** Loss and validation accuracy over the job's iterations, one coloured line per task. */
import { useMemo } from 'preact/hooks';
import type uPlot from 'uplot';
import type { CurvePoint } from '../api/types.js';
import { alignByTask } from '../live/curves.js';
import { Chart } from './chart.js';
import { taskColor } from './colors.js';

interface Props {
  title: string;
  points: CurvePoint[];
  iterationsPerTask: number;
  tasks: number;
  /** Label of the y axis. */
  unit: string;
}

export function TrainingCurve({ title, points, iterationsPerTask, tasks, unit }: Props) {
  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({
      title,
      scales: { x: { time: false } },
      axes: [{ label: `iteration (task t starts at t × ${iterationsPerTask})` }, { label: unit }],
      series: [
        { label: 'iteration' },
        ...Array.from({ length: tasks }, (_, t) => ({
          label: `task ${t}`,
          stroke: taskColor(t),
          width: 1.5,
          spanGaps: false,
          points: { show: false },
        })),
      ],
    }),
    [title, iterationsPerTask, tasks, unit],
  );
  const data = useMemo(
    () => alignByTask(points, iterationsPerTask, tasks) as uPlot.AlignedData,
    [points, iterationsPerTask, tasks],
  );
  if (!points.length) return <p class="muted">{title}: no points yet.</p>;
  return <Chart options={options} data={data} />;
}
