/** How numbers and jobs read on the page. */
import type { Job } from './api/types.js';

export { formatDuration } from '../../src/cli/duration.js';

/** An accuracy in [0, 1] as a percentage with one decimal and no "%": 0.9736 -> "97.4". */
export function percent(value: number): string {
  return (value * 100).toFixed(1);
}

/** A signed difference of accuracies in percentage points: -0.012 -> "-1.2 pp". */
export function points(value: number | null): string {
  return value === null ? '–' : `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)} pp`;
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

export function dateTime(iso: string): string {
  return new Date(iso).toLocaleString();
}

export function benchmarkLabel(job: Job): string {
  const b = job.spec.benchmark;
  const tasks = Array.isArray(b.tasks) ? b.tasks.length : b.tasks;
  return b.kind === 'datasets'
    ? `${tasks} tasks on uploaded data`
    : `${b.kind} ${b.dataset}, ${tasks} tasks`;
}
