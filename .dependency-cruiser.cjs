/**
 * Layers: imports point down only.
 *   fixtures/, src/cli/         (what users run: Playwright fixtures, the cinnamon-pool command)
 *   src/agent/                  (`cinnamon-pool agent`: a machine's members in a shared pool, issue 11)
 *   src/coordinator/            (globalSetup, the HTTP coordinator and its routes, withContainerPool)
 *   src/reporter/               (analytics reporter and its HTML-report entry)
 *   src/pool/
 *   src/health/, src/cleanup/
 *   src/runtime/
 *   src/store/
 *   src/protocol/               (the coordinator's HTTP contract: request schemas, reply shapes, the env
 *                                variable names, PoolClient; imported by coordinator, reporter, fixtures, cli)
 *   src/config/, src/errors/, src/clock/, src/domain/  (leaves)
 *
 * src/protocol/ imports code only from the leaves. It names the records the API carries (Lease, Allocation,
 * PoolStatus, SystemAnalytics, AuditEvent, ResetResult, ...) with `import type` from the layers that define
 * them: erased at compile time, one definition of each record, and a record that changes shape breaks the
 * client's build. Any other import from those layers is refused.
 */
const layer = (name, allowed) => ({
  name: `${name}-imports-down-only`,
  comment: `${name} may import only from: ${allowed.join(', ')}`,
  severity: 'error',
  from: { path: `^src/${name}/` },
  to: { path: '^src/', pathNot: [`^src/${name}/`, ...allowed.map((a) => `^src/${a}/`)] },
});

const leaves = ['config', 'errors', 'clock', 'domain'];

module.exports = {
  forbidden: [
    layer('clock', []),
    layer('errors', []),
    layer('domain', ['errors']),
    layer('config', ['errors', 'domain']),
    layer('store', leaves),
    {
      name: 'protocol-imports-leaves-only',
      comment: 'protocol may import code only from the leaves (config, errors, clock, domain)',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '^src/', pathNot: ['^src/protocol/', ...leaves.map((a) => `^src/${a}/`)], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'protocol-types-from-records-only',
      comment: 'protocol may name (import type) the records of store, pool, cleanup and runtime, nothing above them',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '^src/', pathNot: ['^src/protocol/', ...[...leaves, 'store', 'pool', 'cleanup', 'runtime'].map((a) => `^src/${a}/`)] },
    },
    layer('runtime', [...leaves]),
    layer('health', [...leaves, 'runtime']),
    layer('cleanup', [...leaves, 'runtime', 'health']),
    layer('pool', [...leaves, 'store', 'runtime', 'health', 'cleanup']),
    layer('reporter', [...leaves, 'protocol', 'store', 'pool']),
    layer('coordinator', [...leaves, 'protocol', 'store', 'runtime', 'health', 'cleanup', 'pool', 'reporter']),
    // The host agent of a shared pool (issue 11): runs members on its machine for the pool in Redis.
    layer('agent', [...leaves, 'protocol', 'store', 'runtime', 'health', 'cleanup', 'pool', 'coordinator']),
    layer('cli', [...leaves, 'protocol', 'store', 'runtime', 'health', 'cleanup', 'pool', 'reporter', 'coordinator', 'agent']),
    {
      name: 'src-never-imports-fixtures',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^fixtures/' },
    },
    {
      name: 'no-test-code-in-product',
      severity: 'error',
      from: { path: '^(src|fixtures)/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
