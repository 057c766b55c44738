// Entry of a prediction thread (thread-predictor.ts). Worker threads do not inherit the TypeScript
// loader of `node --import tsx`, so it is registered here. Plain JS so that either works.
const { register } = await import('tsx/esm/api');
register();
await import('./predict.thread.ts');
