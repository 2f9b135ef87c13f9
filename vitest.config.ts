import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'fixtures/**/*.test.ts', 'test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Real Docker, Redis and Chromium on a 2-core machine: one file at a time keeps timings honest.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // Builds the package once into a private folder that the inline projects link to.
          globalSetup: ['test/e2e/support/build-package.ts'],
          testTimeout: 240_000,
          hookTimeout: 120_000,
          // Each test runs a whole `playwright test` with MCP servers and Chromium: one at a time on 2 cores.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'consumer',
          include: ['test/consumer/**/*.test.ts'],
          // npm pack + npm install into a project outside the repository, once for the whole project.
          globalSetup: ['test/consumer/support/install-package.ts'],
          // A first Docker run builds the image (seconds with the base present, minutes without).
          testTimeout: 900_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          // Repeated kills, paused processes, a Redis killed under load: minutes of work per file at most.
          testTimeout: 180_000,
          hookTimeout: 120_000,
          // The scenarios measure re-grant times and kill processes: run alone so that timings mean something.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'multihost',
          include: ['test/multihost/**/*.test.ts'],
          // Host agents and `playwright test` shards in network namespaces on one bridge (needs root; skipped
          // otherwise, with the reason): a shard runs the whole example suite, minutes on a loaded machine.
          testTimeout: 900_000,
          hookTimeout: 180_000,
          // Namespaces, a bridge and iptables rules per file, agents and browsers: one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
