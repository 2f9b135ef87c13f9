/**
 * The example suite, run through the container pool: `npx playwright test` after `npm ci`.
 *
 * In your project the import reads `from '@cinnamon-qa/containers/config'`. Here it points at the TypeScript
 * source, which Playwright compiles on the fly, so the suite runs straight after `npm ci` with no build
 * step (the package's `exports` point at dist/, which exists only after `npm run build`).
 */
import { defineConfig } from '@playwright/test';
import { withContainerPool } from './src/config-entry.js';

/** The example shop's port; the specs reach it as http://localhost:4173 through `mcpContainer.appUrl()`. */
const SHOP_PORT = 4173;

export default withContainerPool(
  defineConfig({
    testDir: './e2e-example/tests',
    // Twice as many workers as containers: there is always a queue, and the priorities decide who goes next.
    workers: 4,
    // A flaky pool must show up as a failure here, not be hidden by a retry.
    retries: 0,
    forbidOnly: !!process.env.CI,
    reporter: [['list'], ['html', { open: 'never' }]],
    webServer: {
      command: 'node --import tsx e2e-example/app/server.ts',
      port: SHOP_PORT,
      reuseExistingServer: !process.env.CI,
      // 0.0.0.0, not localhost: browsers in Docker containers reach the shop through the bridge.
      env: { PORT: String(SHOP_PORT), HOST: '0.0.0.0' },
    },
  }),
  {
    containers: 2,
    basePort: 3001,
    runtime: 'auto', // CINNAMON_POOL_RUNTIME=process|docker overrides it
    redisUrl: process.env.REDIS_URL, // unset: the embedded in-memory store
  },
);
