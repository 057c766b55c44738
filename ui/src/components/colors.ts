/** Task colours (Tableau 10), by task index. */
const TASK_COLORS = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

export function taskColor(task: number): string {
  return TASK_COLORS[task % TASK_COLORS.length];
}

/** A sequential scale for values in [0, 1]: pale (0) to dark blue (1). */
export function heatColor(value: number): string {
  const t = Math.min(1, Math.max(0, value));
  const from = [247, 251, 255];
  const to = [8, 48, 107];
  const [r, g, b] = from.map((f, i) => Math.round(f + (to[i] - f) * t));
  return `rgb(${r}, ${g}, ${b})`;
}

/** Text that stays readable on `heatColor(value)`. */
export function heatTextColor(value: number): string {
  return value > 0.55 ? '#fff' : '#111';
}
