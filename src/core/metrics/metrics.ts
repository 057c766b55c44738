/**
 * Continual-learning metrics on an accuracy matrix A where A[k][j] is the accuracy on task j after
 * training through task k (rows may be ragged: row k has k+1 entries). Method section 9.
 */

/** Mean of the last row (HyperMask's headline number). */
export function averageAccuracy(a: number[][]): number {
  const last = a[a.length - 1];
  return last.reduce((s, v) => s + v, 0) / last.length;
}

/** BWT = 1/(T-1) sum_{j<T-1} (A[T-1][j] - A[j][j]); null with a single task. */
export function backwardTransfer(a: number[][]): number | null {
  const t = a.length;
  if (t < 2) return null;
  let sum = 0;
  for (let j = 0; j < t - 1; j++) sum += a[t - 1][j] - a[j][j];
  return sum / (t - 1);
}

/** Forgetting = 1/(T-1) sum_{j<T-1} max_{k<T-1} (A[k][j] - A[T-1][j]); null with a single task. */
export function forgetting(a: number[][]): number | null {
  const t = a.length;
  if (t < 2) return null;
  let sum = 0;
  for (let j = 0; j < t - 1; j++) {
    let best = -Infinity;
    for (let k = j; k < t - 1; k++) best = Math.max(best, a[k][j] - a[t - 1][j]);
    sum += best;
  }
  return sum / (t - 1);
}

export function summarize(a: number[][]) {
  return {
    accuracyMatrix: a.map((r) => [...r]),
    averageAccuracy: averageAccuracy(a),
    backwardTransfer: backwardTransfer(a),
    forgetting: forgetting(a),
  };
}

export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
