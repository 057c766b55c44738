/**
 * Which file a new process or thread starts from. Under tsx (development, tests) the module that
 * asks is itself a `.ts` file, and the new process or thread starts from a plain-JS shim that
 * registers tsx's loader before importing the TypeScript (worker threads do not inherit it). In
 * the production build (`npm run build`) the asking module is compiled JavaScript, and the entry
 * is the compiled module itself: no shim, no tsx (a dev dependency, absent from the images).
 *
 * @param base the asking module's `import.meta.url`
 * @param shim the shim's path relative to `base` (`./x.thread.mjs`)
 * @param compiled the compiled entry's path relative to `base` (`./x.thread.js`)
 */
export function entryFile(base: string, shim: string, compiled: string): URL {
  return new URL(new URL(base).pathname.endsWith('.ts') ? shim : compiled, base);
}
