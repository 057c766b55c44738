/** Asks for an API key and checks it with one call before the dashboard uses it. */
import { useState } from 'preact/hooks';
import { ApiError, apiFetch } from '../api/client.js';

export function KeyPage({
  message,
  onKey,
}: {
  message: string | null;
  onKey: (key: string) => void;
}) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(message);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const candidate = key.trim();
    if (!candidate) return setError('enter an API key');
    setBusy(true);
    try {
      await apiFetch('/v1/jobs?limit=1', {}, candidate);
      onKey(candidate);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? 'The API refused this key.'
          : (err as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="narrow">
      <h1>Retain</h1>
      <form class="card" onSubmit={(e) => void submit(e)}>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="off"
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
        />
        {error && (
          <p class="error-text" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Open the dashboard
        </button>
        <p class="muted">
          The key stays in this browser tab (session storage) until you close it or choose “Forget
          key”. Make one with <code>npm run apikey -- create --tenant NAME</code>.
        </p>
      </form>
    </main>
  );
}
