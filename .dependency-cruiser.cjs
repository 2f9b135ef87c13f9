/**
 * Layers: imports point down only.
 *   fixtures/, src/reporter/, src/coordinator/  (Playwright + HTTP edges)
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
