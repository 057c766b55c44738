/** The shell: the key, navigation and a hash router (#/jobs, #/jobs/<id>, #/new, #/datasets). */
import { useEffect, useState } from 'preact/hooks';
import { setUnauthorizedHandler } from './api/client.js';
import { apiKey } from './api/key.js';
import { DatasetsPage } from './pages/datasets-page.js';
import { JobPage } from './pages/job-page.js';
import { JobsPage } from './pages/jobs-page.js';
import { KeyPage } from './pages/key-page.js';
import { NewJobPage } from './pages/new-job-page.js';

type Route =
  | { page: 'jobs' }
  | { page: 'job'; id: string }
  | { page: 'new'; dataset?: string }
  | { page: 'datasets' };

export function parseRoute(hash: string): Route {
  const [path, query = ''] = hash.replace(/^#\/?/, '').split('?');
  const [section, id] = path.split('/');
  if (section === 'jobs' && id) return { page: 'job', id: decodeURIComponent(id) };
  if (section === 'new')
    return { page: 'new', dataset: new URLSearchParams(query).get('dataset') ?? undefined };
  if (section === 'datasets') return { page: 'datasets' };
  return { page: 'jobs' };
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}

export function App() {
  const [key, setKey] = useState(apiKey.get());
  const [keyMessage, setKeyMessage] = useState<string | null>(null);
  const route = useRoute();

  useEffect(
    () =>
      setUnauthorizedHandler((error) => {
        apiKey.clear();
        setKey(null);
        setKeyMessage(`The API refused the key: ${error.message}`);
      }),
    [],
  );

  if (!key) {
    return (
      <KeyPage
        message={keyMessage}
        onKey={(k) => {
          apiKey.set(k);
          setKeyMessage(null);
          setKey(k);
        }}
      />
    );
  }
  const forget = () => {
    apiKey.clear();
    setKey(null);
  };
  return (
    <>
      <nav class="top">
        <strong>Retain</strong>
        <a href="#/jobs" class={route.page === 'jobs' || route.page === 'job' ? 'active' : ''}>
          Jobs
        </a>
        <a href="#/new" class={route.page === 'new' ? 'active' : ''}>
          New job
        </a>
        <a href="#/datasets" class={route.page === 'datasets' ? 'active' : ''}>
          Data sets
        </a>
        <a href="/docs">API reference</a>
        <button type="button" class="secondary" onClick={forget}>
          Forget key
        </button>
      </nav>
      <main>
        {route.page === 'jobs' && <JobsPage />}
        {route.page === 'job' && <JobPage key={route.id} id={route.id} />}
        {route.page === 'new' && <NewJobPage key={route.dataset ?? ''} dataset={route.dataset} />}
        {route.page === 'datasets' && <DatasetsPage />}
      </main>
    </>
  );
}
