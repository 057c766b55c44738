// The file BullMQ forks for every training process when the worker runs as TypeScript (npm start,
// tests; the production build forks the compiled training.sandbox.js instead). BullMQ starts the
// child with the parent's execArgv, so under `tsx`/`node --import tsx` the TypeScript loader is
// already there; otherwise (plain `node`) it is registered here. Plain JS so that either works.
if (!process.execArgv.some((a) => a.includes('tsx'))) {
  const { register } = await import('tsx/esm/api');
  register();
}
const { default: processor } = await import('./training.sandbox.ts');
export default processor;
