import { useCallback, useRef } from 'preact/hooks';

/**
 * A trigger for `load` that never runs two loads at once: a trigger during a load runs it once
 * more afterwards, however many came in. Bursts of "something changed" (a stream replaying a
 * job's tasks) cost one or two reloads, and the last one always sees the latest state.
 */
export function useCoalesced(load: () => Promise<void>): () => void {
  const latest = useRef(load);
  latest.current = load;
  const state = useRef({ running: false, again: false });
  return useCallback(() => {
    const s = state.current;
    if (s.running) {
      s.again = true;
      return;
    }
    s.running = true;
    void (async () => {
      do {
        s.again = false;
        await latest.current().catch(() => {});
      } while (s.again);
      s.running = false;
    })();
  }, []);
}
