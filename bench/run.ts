/**
 * `npm run bench [-- name...]`: runs the named benchmarks (all by default) one after another and prints
 * their markdown tables, ready for BENCHMARKS.md.
 */
const BENCHES: Record<string, () => Promise<{ run(): Promise<string> }>> = {
  allocation: () => import('./allocation-latency.js'),
  start: () => import('./pool-start.js'),
  cleanup: () => import('./cleanup-reset.js'),
  'cross-process': () => import('./cross-process-latency.js'),
  scale: () => import('./scale.js'),
  throughput: () => import('./suite-throughput.js'),
  'guard-check': () => import('./guard-check.js'),
  'cross-shard': () => import('./cross-shard.js'),
  'suite-shards': () => import('./suite-shards.js'),
  prewarm: () => import('./prewarm-sessions.js'),
  'warm-reuse': () => import('./warm-reuse.js'),
  'start-timeline': () => import('./start-timeline.js'),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : Object.keys(BENCHES);
for (const name of names) {
  const load = BENCHES[name];
  if (!load) {
    console.error(`Unknown benchmark '${name}'. Known: ${Object.keys(BENCHES).join(', ')}`);
    process.exit(2);
  }
  console.error(`Running ${name}...`);
  const bench = await load();
  console.log(`${await bench.run()}\n`);
}
