// Entry of a dataset inspection thread (thread-inspector.ts) under tsx. Worker threads do not
// inherit the TypeScript loader of `node --import tsx`, so it is registered here. The production
// build starts the compiled inspect.thread.js instead (src/infra/entry-file.ts).
const { register } = await import('tsx/esm/api');
register();
await import('./inspect.thread.ts');
