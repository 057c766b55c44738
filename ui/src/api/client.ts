/** Calls to the API with the session's key; errors become ApiError with the API's code and field. */
import { apiKey } from './key.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The offending field (JSON path such as "training.iterationsPerTask"), when the API names one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let onUnauthorized: (error: ApiError) => void = () => {};

/** Called when the API refuses the key (401): the app then asks for another. */
export function setUnauthorizedHandler(handler: (error: ApiError) => void): void {
  onUnauthorized = handler;
}

async function errorOf(res: Response): Promise<ApiError> {
  try {
    const { error } = (await res.json()) as {
      error: { code: string; message: string; field?: string };
    };
    return new ApiError(res.status, error.code, error.message, error.field);
  } catch {
    return new ApiError(
      res.status,
      `HTTP_${res.status}`,
      `the API answered ${res.status} ${res.statusText}`,
    );
  }
}

/** fetch with the key; throws ApiError for any status other than 2xx. */
export async function apiFetch(
  path: string,
  init: RequestInit = {},
  key = apiKey.get(),
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (key) headers.set('authorization', `Bearer ${key}`);
  const res = await fetch(path, { ...init, headers });
  if (res.ok) return res;
  const error = await errorOf(res);
  if (res.status === 401) onUnauthorized(error);
  throw error;
}

export async function getJson<T>(path: string, init?: RequestInit): Promise<T> {
  return (await apiFetch(path, init)).json() as Promise<T>;
}

export async function postJson<T>(path: string, body?: unknown): Promise<T> {
  const init: RequestInit =
    body === undefined
      ? { method: 'POST' }
      : {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        };
  return getJson<T>(path, init);
}

/**
 * Saves what `path` answers as a file. A plain link cannot carry the Authorization header, so the
 * bytes are fetched with it and handed to the browser as a blob URL.
 */
export async function download(path: string, filename: string): Promise<void> {
  saveBlob(await (await apiFetch(path)).blob(), filename);
}

export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  // Revoking at once can cancel a download that has not started reading the blob yet.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
