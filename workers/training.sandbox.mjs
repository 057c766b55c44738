// The file BullMQ forks for every training process (a sandboxed processor). BullMQ starts the
// child with the parent's execArgv, so under `tsx`/`node --import tsx` the TypeScript loader is
// already there; otherwise (plain `node`) it is registered here. Plain JS so that either works.
if (!process.execArgv.some((a) => a.includes('tsx'))) {
  const { register } = await import('tsx/esm/api');
  register();
}
// If the worker process dies (SIGKILL, OOM), this child must not go on training as an orphan and
// race with the worker that takes the job over: its IPC channel closes, so exit at once.
process.on('disconnect', () => process.exit(1));
const { default: processor } = await import('./processors/sandbox.processor.ts');
export default processor;
