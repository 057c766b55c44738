// Entry of a prediction thread (thread-predictor.ts) under tsx. Worker threads do not inherit the
// TypeScript loader of `node --import tsx`, so it is registered here. The production build starts
// the compiled predict.thread.js instead (src/infra/entry-file.ts).
const { register } = await import('tsx/esm/api');
register();
await import('./predict.thread.ts');
