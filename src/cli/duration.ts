/**
 * A duration for people: "42s", "3m05s", "2h07m". Rounded to whole seconds (or minutes) before it
 * is split, so 119.6 s reads "2m00s", never "1m60s".
 */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
