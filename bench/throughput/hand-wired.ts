import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import Docker from 'dockerode';
import { DEFAULT_MAX_CPU_PER_CONTAINER_PERCENT, DEFAULT_MAX_MEMORY_PER_CONTAINER_MB } from '../../src/config/schemas.js';
import { hardenedContainerOptions } from '../../src/runtime/docker/hardened-container-options.js';
import { imageLayoutFromInspect } from '../../src/runtime/docker/image-layout.js';
import { credentialHeaders, MemberCredentials } from '../../src/runtime/member-credentials.js';
import {
  DEFAULT_HOME_SIZE_MB,
  DEFAULT_PIDS_LIMIT,
  DEFAULT_SHM_SIZE_MB,
  DEFAULT_TMP_SIZE_MB,
  DEFAULT_WORKDIR_SIZE_MB,
} from '../../src/runtime/docker/docker-runtime-options.js';

/** Label on every container this benchmark starts by itself, so a failed run can still remove them all. */
export const BENCH_LABEL = 'cinnamon-qa.bench';

export interface HandWiredContainers {
  urls: string[];
  /** The headers a client of `urls[i]` sends: the image's guard admits only a credential signed with its key. */
  headers: Array<Record<string, string>>;
  /** From the first create call until both servers answered an MCP initialize, ms. */
  startMs: number;
  stop(): Promise<void>;
}

/**
 * Variant (c)'s containers, started "by hand" with dockerode: the same image and the same create request as
 * the pool's (hardenedContainerOptions, the runtime's default limits), on Docker's default bridge, each ready
 * once an MCP session opens. No pool code runs after this: no health monitor, no cleanup, no lease.
 */
export async function startHandWired(docker: Docker, image: string, ports: readonly number[], runId: string): Promise<HandWiredContainers> {
  const started = performance.now();
  const layout = imageLayoutFromInspect(image, (await docker.getImage(image).inspect()).Config);
  const containers: Docker.Container[] = [];
  const credentials = new MemberCredentials();
  const memberId = (i: number) => `hand-${i + 1}`;
  const headers = ports.map((_, i) => credentialHeaders(credentials.forPool(memberId(i))));
  const stop = async () => {
    await Promise.all(containers.map((c) => c.remove({ force: true }).catch(() => undefined)));
  };
  try {
    await Promise.all(
      ports.map(async (port, i) => {
        const options = hardenedContainerOptions({
          spec: { id: memberId(i), name: `bench-tp-hand-${runId}-${i + 1}`, port, memoryMB: DEFAULT_MAX_MEMORY_PER_CONTAINER_MB, cpuPercent: DEFAULT_MAX_CPU_PER_CONTAINER_PERCENT },
          ctx: { poolId: 'bench-throughput-hand', runId, guardKey: (id) => credentials.keyOf(id) },
          image,
          networkName: 'bridge',
          layout,
          limits: {
            shmSizeMB: DEFAULT_SHM_SIZE_MB,
            pidsLimit: DEFAULT_PIDS_LIMIT,
            tmpSizeMB: DEFAULT_TMP_SIZE_MB,
            homeSizeMB: DEFAULT_HOME_SIZE_MB,
            workdirSizeMB: DEFAULT_WORKDIR_SIZE_MB,
          },
        });
        const container = await docker.createContainer({ ...options, Labels: { ...options.Labels, [BENCH_LABEL]: 'throughput-hand-wired' } });
        containers.push(container);
        await container.start();
        await waitForMcp(`http://localhost:${port}/mcp`, headers[i]!, 30_000);
      }),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { urls: ports.map((p) => `http://localhost:${p}/mcp`), headers, startMs: performance.now() - started, stop };
}

async function waitForMcp(url: string, headers: Record<string, string>, budgetMs: number): Promise<void> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    try {
      // Each attempt capped at 2.5 s, as the pool's health gate does: the first request to a new container
      // sometimes hangs (accepted by the port proxy, never answered) while a new connection a moment later works.
      const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
      const client = new Client({ name: 'throughput-bench', version: '1' });
      try {
        await client.connect(transport, { timeout: 2_500 });
        await transport.terminateSession().catch(() => undefined);
      } finally {
        await client.close().catch(() => undefined);
      }
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${url} did not answer MCP within ${budgetMs} ms: ${String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Removes whatever this benchmark (or a pool with `poolId`) left running: after a crash, or a killed run. */
export async function removeLeftovers(docker: Docker, poolId: string): Promise<number> {
  const filters = [{ label: [BENCH_LABEL] }, { label: [`cinnamon-qa.pool=${poolId}`] }];
  let removed = 0;
  for (const filter of filters) {
    for (const info of await docker.listContainers({ all: true, filters: filter })) {
      await docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
      removed++;
    }
  }
  return removed;
}
