import type { JobStatus } from '../api/types.js';

export function StatusBadge({ status }: { status: JobStatus }) {
  return (
    <span class={`status status-${status}`} data-status={status}>
      {status}
    </span>
  );
}
