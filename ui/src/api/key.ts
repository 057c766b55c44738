/**
 * The API key lives in this tab's sessionStorage only: it is gone when the tab closes, other tabs
 * never see it, and it is never written to localStorage or a cookie.
 */
const STORAGE_KEY = 'retain.apiKey';

export const apiKey = {
  get: (): string | null => sessionStorage.getItem(STORAGE_KEY),
  set: (key: string): void => sessionStorage.setItem(STORAGE_KEY, key),
  clear: (): void => sessionStorage.removeItem(STORAGE_KEY),
};
