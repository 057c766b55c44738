/** The tenant's uploaded data sets (GET /v1/datasets), newest first. */
import { useEffect, useState } from 'preact/hooks';
import { getJson } from '../api/client.js';
import type { Dataset, Page } from '../api/types.js';
import { bytes, dateTime } from '../format.js';

const PAGE_SIZE = 50;
const SHOWN_CLASSES = 6;

export function DatasetsPage() {
  const [items, setItems] = useState<Dataset[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = (after: string | null) =>
    getJson<Page<Dataset>>(
      `/v1/datasets?limit=${PAGE_SIZE}${after ? `&cursor=${encodeURIComponent(after)}` : ''}`,
    )
      .then((page) => {
        setItems((current) => [...(after ? (current ?? []) : []), ...page.items]);
        setCursor(page.nextCursor);
      })
      .catch((err: Error) => setError(err.message));
  useEffect(() => void load(null), []);

  if (error) return <p class="error-text">{error}</p>;
  if (!items) return <p class="muted">Loading data sets…</p>;
  return (
    <section>
      <h1>Data sets</h1>
      {items.length === 0 ? (
        <p>
          No data sets yet. Upload one with <code>POST /v1/datasets</code> (README, “Your own
          data”).
        </p>
      ) : (
        <table class="data" data-testid="dataset-list">
          <thead>
            <tr>
              <th scope="col">name</th>
              <th scope="col">format</th>
              <th scope="col">sample shape</th>
              <th scope="col">classes</th>
              <th scope="col">train / test samples</th>
              <th scope="col">size</th>
              <th scope="col">uploaded</th>
              <th scope="col" />
            </tr>
          </thead>
          <tbody>
            {items.map((d) => (
              <tr data-dataset={d.id}>
                <td>
                  {d.name ?? <span class="muted">unnamed</span>}
                  <br />
                  <code class="muted">{d.id}</code>
                </td>
                <td>{d.format}</td>
                <td>
                  [{d.inputShape.join(', ')}] {d.dtype}
                </td>
                <td title={d.classNames.join(', ')}>
                  {d.classNames.length}: {d.classNames.slice(0, SHOWN_CLASSES).join(', ')}
                  {d.classNames.length > SHOWN_CLASSES ? ', …' : ''}
                </td>
                <td class="num">
                  {d.samples.train.toLocaleString('en')} / {d.samples.test.toLocaleString('en')}
                </td>
                <td class="num">{bytes(d.sizeBytes)}</td>
                <td>{dateTime(d.createdAt)}</td>
                <td>
                  <a href={`#/new?dataset=${d.id}`}>Train on it</a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && (
        <button type="button" onClick={() => void load(cursor)}>
          Older data sets
        </button>
      )}
    </section>
  );
}
