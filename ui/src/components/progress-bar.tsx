import type { Job } from '../api/types.js';
import { formatDuration } from '../format.js';

/** A bar and one line: task, iteration, share done and ETA. */
export function ProgressBar({ job, compact = false }: { job: Job; compact?: boolean }) {
  const p = job.progress;
  const pct = Math.round(p.fraction * 100);
  // Tasks are numbered from 0, as in the API's URLs.
  const training =
    p.currentTask !== null
      ? `training task ${p.currentTask}${p.iteration !== null ? ` (iteration ${p.iteration} of ${p.iterationsPerTask})` : ''} · `
      : '';
  const done = `${p.completedTasks} of ${p.tasksTotal} tasks done`;
  const eta =
    job.status === 'running' && p.etaMs !== null ? ` · ETA ${formatDuration(p.etaMs)}` : '';
  return (
    <div class={compact ? 'progress compact' : 'progress'}>
      <div
        class="progress-track"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct}
      >
        <div class={`progress-fill status-${job.status}`} style={{ width: `${pct}%` }} />
      </div>
      <span class="progress-text" data-testid="progress-text">
        {pct} %{compact ? '' : ` · ${training}${done}${eta}`}
      </span>
    </div>
  );
}
