import { useState } from 'preact/hooks';

/** A button that runs a download (fetch with the key, then a blob URL) and says when it failed. */
export function DownloadButton({ label, run }: { label: string; run: () => Promise<void> }) {
  const [state, setState] = useState<'idle' | 'busy' | string>('idle');
  const click = async () => {
    setState('busy');
    try {
      await run();
      setState('idle');
    } catch (err) {
      setState(`failed: ${(err as Error).message}`);
    }
  };
  return (
    <span class="download">
      <button type="button" class="link-button" disabled={state === 'busy'} onClick={click}>
        {label}
      </button>
      {state !== 'idle' && state !== 'busy' && <span class="error-text"> {state}</span>}
    </span>
  );
}
