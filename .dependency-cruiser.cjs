/**
 * Layers: imports point down only.
 *   fixtures/, src/cli/         (what users run: Playwright fixtures, the cinnamon-pool command)
 *   src/coordinator/            (globalSetup, HTTP coordinator and its client, withContainerPool)
 *   src/reporter/               (analytics reporter and its HTML-report entry)
 *   src/pool/
 *   src/health/, src/cleanup/
 *   src/runtime/
 *   src/store/
 *   src/config/, src/errors/, src/clock/, src/domain/  (leaves)
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
    layer('runtime', [...leaves]),
    layer('health', [...leaves, 'runtime']),
    layer('cleanup', [...leaves, 'runtime', 'health']),
    layer('pool', [...leaves, 'store', 'runtime', 'health', 'cleanup']),
    layer('reporter', [...leaves, 'store', 'pool']),
    layer('coordinator', [...leaves, 'store', 'runtime', 'health', 'cleanup', 'pool', 'reporter']),
    layer('cli', [...leaves, 'store', 'runtime', 'health', 'cleanup', 'pool', 'reporter', 'coordinator']),
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
