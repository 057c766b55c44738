/** The tenant's jobs, newest first, with live status and progress (the list is polled: one request for all rows). */
import { useState } from 'preact/hooks';
import { getJson } from '../api/client.js';
import { FINAL_STATUSES, type Job, type Page } from '../api/types.js';
import { ProgressBar } from '../components/progress-bar.js';
import { StatusBadge } from '../components/status-badge.js';
import { benchmarkLabel, dateTime, percent } from '../format.js';
import { POLL_MS } from '../live/follow-job.js';
import { useInterval } from '../live/use-interval.js';

const PAGE_SIZE = 25;
/** While nothing is queued or running the list is still refreshed, to show jobs submitted elsewhere. */
const IDLE_POLL_MS = 10_000;

export function JobsPage() {
  const [first, setFirst] = useState<Page<Job> | null>(null);
  const [older, setOlder] = useState<Job[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const active = first?.items.some((j) => !FINAL_STATUSES.has(j.status)) ?? false;
  useInterval(
    () => {
      getJson<Page<Job>>(`/v1/jobs?limit=${PAGE_SIZE}`)
        .then((page) => {
          setFirst(page);
          setError(null);
          if (!older.length) setCursor(page.nextCursor);
        })
        .catch((err: Error) => setError(err.message));
    },
    active ? POLL_MS : IDLE_POLL_MS,
  );

  const more = async () => {
    if (!cursor) return;
    const page = await getJson<Page<Job>>(
      `/v1/jobs?limit=${PAGE_SIZE}&cursor=${encodeURIComponent(cursor)}`,
    );
    setOlder((o) => [...o, ...page.items]);
    setCursor(page.nextCursor);
  };

  if (!first) return error ? <p class="error-text">{error}</p> : <p class="muted">Loading jobs…</p>;
  const shown = new Set(first.items.map((j) => j.id));
  const jobs = [...first.items, ...older.filter((j) => !shown.has(j.id))];
  return (
    <section>
      <h1>Jobs</h1>
      {error && <p class="error-text">Refreshing failed: {error}</p>}
      {jobs.length === 0 ? (
        <p>
          No jobs yet. <a href="#/new">Submit one</a>.
        </p>
      ) : (
        <table class="data jobs" data-testid="job-list">
          <thead>
            <tr>
              <th scope="col">job</th>
              <th scope="col">method</th>
              <th scope="col">benchmark</th>
              <th scope="col">status</th>
              <th scope="col" class="wide">
                progress
              </th>
              <th scope="col">average accuracy (%)</th>
              <th scope="col">submitted</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((job) => (
              <tr data-job={job.id}>
                <td>
                  <a href={`#/jobs/${job.id}`}>{job.name ?? job.id.slice(0, 8)}</a>
                </td>
                <td>{job.spec.method}</td>
                <td>{benchmarkLabel(job)}</td>
                <td>
                  <StatusBadge status={job.status} />
                </td>
                <td class="wide">
                  <ProgressBar job={job} compact />
                </td>
                <td class="num">{job.result ? percent(job.result.averageAccuracy) : ''}</td>
                <td>{dateTime(job.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && (
        <button
          type="button"
          onClick={() => void more().catch((err: Error) => setError(err.message))}
        >
          Older jobs
        </button>
      )}
    </section>
  );
}
