import { useState } from 'preact/hooks';

/** A button that runs a download (fetch with the key, then a blob URL) and says when it failed. */
export function DownloadButton({ label, run }: { label: string; run: () => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const click = async () => {
    setBusy(true);
    setFailure(null);
    try {
      await run();
    } catch (err) {
      setFailure((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="download">
      <button type="button" class="link-button" disabled={busy} onClick={() => void click()}>
        {label}
      </button>
      {failure && <span class="error-text"> failed: {failure}</span>}
    </span>
  );
}
