import type Docker from 'dockerode';
import { PoolError } from '../../errors/pool-error.js';
import type { RunContext } from '../container-runtime.js';
import { runtimeError } from '../runtime-error.js';
import { dockerMessage, isDockerNotFound } from './docker-error.js';
import { ownerAlive } from '../run-owner.js';
import { RUN_LABEL, ownerFromLabels, poolLabelFilter } from './docker-labels.js';

/**
 * Removes the containers and networks of `ctx.poolId` that another run left: labelled with the pool, not with
 * this run, and whose owner process is gone. A run whose owner lives (another `playwright test` of the same
 * pool on this host) is left alone, and so is another host's (its owner cannot be checked from here); things
 * without an owner label (made before owners were stamped) count as leftovers. Returns the names removed;
 * throws when something could not be removed, naming it.
 */
export async function reapDockerLeftovers(docker: Docker, ctx: RunContext): Promise<string[]> {
  const filters = { label: [poolLabelFilter(ctx.poolId)] };
  const removed: string[] = [];
  const failures: string[] = [];

  let leftovers: Docker.ContainerInfo[];
  try {
    leftovers = await docker.listContainers({ all: true, filters });
  } catch (error) {
    throw listingError(ctx.poolId, 'containers', error);
  }
  // Only other runs: reaping must never hit what this run has already started.
  for (const info of leftovers.filter((c) => isLeftover(c.Labels, ctx))) {
    const name = info.Names?.[0]?.replace(/^\//, '') ?? info.Id.slice(0, 12);
    try {
      await docker.getContainer(info.Id).remove({ force: true, v: true });
      removed.push(name);
    } catch (error) {
      if (isDockerNotFound(error)) continue;
      failures.push(`${name}: ${dockerMessage(error)}`);
    }
  }

  let networks: Docker.NetworkInspectInfo[];
  try {
    networks = await docker.listNetworks({ filters });
  } catch (error) {
    throw listingError(ctx.poolId, 'networks', error);
  }
  for (const network of networks.filter((n) => isLeftover(n.Labels, ctx))) {
    try {
      await docker.getNetwork(network.Id).remove();
      removed.push(network.Name);
    } catch (error) {
      if (isDockerNotFound(error)) continue;
      failures.push(`${network.Name}: ${dockerMessage(error)}`);
    }
  }

  if (failures.length > 0) {
    throw runtimeError('docker', {
            stage: `reaping the leftovers of pool ${ctx.poolId}`,
      problem: failures.join('; '),
      fix: `Remove them by hand: docker rm -f $(docker ps -aq --filter label=${poolLabelFilter(ctx.poolId)}).`,
      data: { poolId: ctx.poolId, removed, failures },
    });
  }
  return removed;
}

function listingError(poolId: string, what: string, cause: unknown): PoolError {
  return runtimeError('docker', {
        stage: `listing the leftover ${what} of pool ${poolId}`,
    cause,
    fix: 'Is the Docker daemon running and reachable (DOCKER_HOST or /var/run/docker.sock)?',
    data: { poolId },
  });
}

/** Another run's, and nobody alive vouches for it. Never this run's: reaping must not hit what it started. */
function isLeftover(labels: Record<string, string> | undefined, ctx: RunContext): boolean {
  if (labels?.[RUN_LABEL] === ctx.runId) return false;
  const owner = ownerFromLabels(labels);
  return owner === undefined || ownerAlive(owner) === false;
}
