/**
 * Variant (b): a fresh container per test, the usual alternative. A test-scoped fixture starts the pool's own
 * image with testcontainers, waits until the MCP server says it listens, connects, runs the test, stops the
 * container. Run with 2 or 4 workers = 2 or 4 containers at once.
 *
 * Hardening as close to the pool's (src/runtime/docker/hardened-container-options.ts) as GenericContainer
 * allows: every capability dropped, no-new-privileges, memory and CPU limits, 512 MB shm, tmpfs for the image's
 * writable paths, host.docker.internal mapped. GenericContainer has no switch for an init process, a read-only
 * root, a pids limit or a 127.0.0.1-only port binding; none of those changes start-up or test time measurably,
 * and a container that lives for one test has no time to collect zombies.
 */
import { test as base } from '@playwright/test';
import { GenericContainer, Wait } from 'testcontainers';
import { appUrlFor } from '../../fixtures/app-url.js';
import { freePort } from '../../test/support/ports.js';
import { connectMcp } from './mcp-connect.js';
import type { WorkloadFixtures } from './workload.js';

const IMAGE = process.env.THROUGHPUT_IMAGE ?? '';
const MB = 1024 * 1024;
/** The image's uid:gid (docker/Dockerfile MCP_UID), owner of the tmpfs mounts as in the pool. */
const OWNER = 'uid=10001,gid=10001';

export const test = base.extend<WorkloadFixtures>({
  mcpContainer: [
    async ({}, use) => {
      if (!IMAGE) throw new Error('THROUGHPUT_IMAGE is not set (bench/suite-throughput.ts sets it)');
      // The image's server accepts only Host localhost:<MCP_PORT>, so it must listen on the same port number
      // it is published on: a fixed host port per container rather than testcontainers' random one.
      const port = await freePort();
      const container = await new GenericContainer(IMAGE)
        .withEnvironment({ MCP_PORT: String(port) })
        .withExposedPorts({ container: port, host: port })
        .withExtraHosts([{ host: 'host.docker.internal', ipAddress: 'host-gateway' }])
        .withSharedMemorySize(512 * MB)
        .withResourcesQuota({ memory: 0.5, cpu: 0.8 })
        .withDroppedCapabilities('ALL')
        .withSecurityOpt('no-new-privileges:true')
        .withTmpFs({
          '/tmp': 'rw,nosuid,nodev,noexec,size=512m,mode=1777',
          '/mcp/home': `rw,nosuid,nodev,noexec,size=128m,mode=0700,${OWNER}`,
          '/mcp/work': `rw,nosuid,nodev,noexec,size=256m,mode=0755,${OWNER}`,
          '/mcp/run': `rw,nosuid,nodev,noexec,size=1m,mode=0700,${OWNER}`,
        })
        .withLabels({ 'cinnamon-qa.bench': 'throughput-per-test' })
        .withWaitStrategy(Wait.forLogMessage(/Listening on http/))
        .withStartupTimeout(60_000)
        .start();
      try {
        const session = await connectMcp(`http://localhost:${port}/mcp`);
        try {
          await use({ client: session.client, appUrl: (url) => appUrlFor('docker', url) });
        } finally {
          await session.close();
        }
      } finally {
        await container.stop();
      }
    },
    { timeout: 90_000 },
  ],
});
