/**
 * Layer rules (docs: shared/docs/style.md, practice 1):
 *   src/core (ML, pure) <- src/services (use cases + ports) <- src/infra, src/http, workers/
 * `npm run lint` runs this and `tsc --noEmit`.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Circular imports make initialisation order fragile.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-only-tfjs-typebox',
      severity: 'error',
      comment:
        'src/core may import only @tensorflow/tfjs-core, @tensorflow/tfjs, @sinclair/typebox and itself: no node builtins, frameworks, queues or databases.',
      from: { path: '^src/core/' },
      to: {
        pathNot: [
          '^src/core/',
          '^node_modules/@tensorflow/tfjs-core/',
          '^node_modules/@tensorflow/tfjs/',
          '^node_modules/@sinclair/typebox/',
        ],
      },
    },
    {
      name: 'core-no-builtins',
      severity: 'error',
      comment: 'The core does no I/O.',
      from: { path: '^src/core/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'services-no-frameworks',
      severity: 'error',
      comment: 'Use cases depend on ports, not on Fastify, BullMQ or Prisma.',
      from: { path: '^src/services/' },
      to: {
        path: [
          '^node_modules/(fastify|@fastify|bullmq|ioredis|@prisma|prisma|pg)/',
          '^src/generated/',
          '^src/(infra|http)/',
          '^workers/',
        ],
      },
    },
    {
      name: 'generated-prisma-only-in-repositories',
      severity: 'error',
      comment: 'Prisma stays inside src/infra/prisma.',
      from: { pathNot: ['^src/infra/prisma/', '^src/generated/'] },
      to: { path: ['^src/generated/prisma/', '^node_modules/@prisma/'] },
    },
    {
      name: 'inner-layers-do-not-reach-out',
      severity: 'error',
      comment: 'Nothing in src/ depends on the entry points in workers/ or on scripts/.',
      from: { path: '^src/' },
      to: { path: ['^workers/', '^scripts/', '^test/'] },
    },
  ],
  options: {
    // Worktrees link node_modules to another checkout; resolve packages as node_modules/... there too.
    preserveSymlinks: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^src/generated/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
