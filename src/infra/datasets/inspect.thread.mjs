// Entry of a dataset inspection thread (thread-inspector.ts). Worker threads do not inherit the
// TypeScript loader of `node --import tsx`, so it is registered here. Plain JS so that either works.
const { register } = await import('tsx/esm/api');
register();
await import('./inspect.thread.ts');
