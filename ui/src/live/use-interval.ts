import { useEffect, useRef } from 'preact/hooks';

/** Calls `tick` now and then every `ms` while the component is mounted (a new `ms` restarts the timer). */
export function useInterval(tick: () => void, ms: number): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    latest.current();
    const timer = setInterval(() => latest.current(), ms);
    return () => clearInterval(timer);
  }, [ms]);
}
