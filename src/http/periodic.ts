/**
 * Periodic work of the API process (the reconciler, checkpoint retention): `task` runs at once and
 * then every `intervalMs`, never two runs at a time (a slow run skips the ticks it overlaps); a run
 * that throws is reported and the next tick tries again. Returns a function that stops it.
 */
export function every(
  intervalMs: number,
  task: () => Promise<void>,
  onError: (err: unknown) => void,
): () => void {
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    try {
      await task();
    } catch (err) {
      onError(err);
    } finally {
      running = false;
    }
  };
  void run();
  const timer = setInterval(() => void run(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
