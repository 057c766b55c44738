/**
 * The module BullMQ forks for every training process (a sandboxed processor). In the production
 * build the worker forks the compiled training.sandbox.js directly; under tsx it forks the shim
 * training.sandbox.mjs, which imports this file.
 */
// If the worker process dies (SIGKILL, OOM), this child must not go on training as an orphan and
// race with the worker that takes the job over: its IPC channel closes, so exit at once. Registered
// before the processors load (seconds), hence the dynamic import below.
process.on('disconnect', () => process.exit(1));
const { default: processor } = await import('./processors/sandbox.processor.js');
export default processor;
