/** The accuracy matrix as a heatmap: row k after training task k, column j the test accuracy on task j. */
import { percent } from '../format.js';
import { heatColor, heatTextColor } from './colors.js';

export function AccuracyHeatmap({ matrix }: { matrix: number[][] }) {
  if (!matrix.length) return <p class="muted">No task has finished yet.</p>;
  const tasks = matrix[matrix.length - 1].length;
  return (
    <figure class="heatmap">
      <table data-testid="accuracy-heatmap">
        <thead>
          <tr>
            <th scope="col">after</th>
            {Array.from({ length: tasks }, (_, j) => (
              <th scope="col">task {j}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {matrix.map((row, k) => (
            <tr>
              <th scope="row">task {k}</th>
              {Array.from({ length: tasks }, (_, j) =>
                j < row.length ? (
                  <td
                    class="heat-cell"
                    data-row={k}
                    data-col={j}
                    data-value={String(row[j])}
                    title={`after task ${k}, on task ${j}: ${row[j]}`}
                    style={{ background: heatColor(row[j]), color: heatTextColor(row[j]) }}
                  >
                    {percent(row[j])}
                  </td>
                ) : (
                  <td class="heat-empty" />
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
      <figcaption>
        Test accuracy (%) on task j (columns) after training through task k (rows)
      </figcaption>
    </figure>
  );
}
