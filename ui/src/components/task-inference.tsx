/**
 * Task-agnostic inference after the last task: which task a test input belongs to, chosen by
 * lowest softmax entropy or by FeCAM (nearest class prototype in Mahalanobis distance).
 */
import type { TaskInference } from '../api/types.js';
import { percent } from '../format.js';

export function TaskInferenceTable({
  result,
  rule,
}: {
  result: TaskInference | null;
  rule: 'entropy' | 'fecam';
}) {
  if (!result)
    return (
      <p class="muted">
        {rule === 'fecam' ? 'FeCAM' : 'Entropy'}: not run (the spec's evaluation.taskInference is
        not "{rule}" or "both").
      </p>
    );
  return (
    <table class="data" data-testid={rule === 'fecam' ? 'task-inference-fecam' : 'task-inference'}>
      <caption>{rule === 'fecam' ? 'By FeCAM' : 'By lowest entropy'}</caption>
      <thead>
        <tr>
          <th scope="col">test inputs of</th>
          <th scope="col">task predicted correctly (%)</th>
          <th scope="col">class predicted correctly (%)</th>
        </tr>
      </thead>
      <tbody>
        {result.perTask.map((r) => (
          <tr>
            <th scope="row">task {r.task}</th>
            <td class="num" data-value={String(r.taskAccuracy)}>
              {percent(r.taskAccuracy)}
            </td>
            <td class="num" data-value={String(r.classAccuracy)}>
              {percent(r.classAccuracy)}
            </td>
          </tr>
        ))}
      </tbody>
      <tfoot>
        <tr>
          <th scope="row">all tasks</th>
          <td class="num" data-value={String(result.taskAccuracy)}>
            {percent(result.taskAccuracy)}
          </td>
          <td class="num" data-value={String(result.classAccuracy)}>
            {percent(result.classAccuracy)}
          </td>
        </tr>
      </tfoot>
    </table>
  );
}
