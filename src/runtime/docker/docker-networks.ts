import type Docker from 'dockerode';
import type { RunContext } from '../container-runtime.js';
import type { RunOwner } from '../run-owner.js';
import { runtimeError } from '../runtime-error.js';
import { dockerMessage, dockerStatusCode, isDockerNotFound } from './docker-error.js';
import { runLabels } from './docker-labels.js';

interface RunNetwork {
  name: string;
  /** False when another runtime instance of the same run made it: that instance removes it. */
  created: boolean;
}

/**
 * One bridge network per pool run, on which pool containers cannot reach each other (a page in one browser
 * must not reach another test's MCP server); the host (host.docker.internal) stays reachable.
 */
export class RunNetworks {
  private readonly networks = new Map<string, Promise<RunNetwork>>();

  constructor(
    private readonly docker: Docker,
    private readonly owner: RunOwner,
  ) {}

  /** The run's network, made on first use; joined when another runtime instance of the run made it. */
  async ensure(ctx: RunContext, containerId: string): Promise<string> {
    const key = `${ctx.poolId}\u0000${ctx.runId}`;
    let pending = this.networks.get(key);
    if (!pending) {
      pending = this.create(ctx, containerId);
      // A failed creation is not remembered: the next start tries again.
      pending.catch(() => this.networks.delete(key));
      this.networks.set(key, pending);
    }
    return (await pending).name;
  }

  /** Removes the networks this instance made; returns what could not be removed. */
  async removeAll(): Promise<string[]> {
    const failures: string[] = [];
    for (const [key, pending] of this.networks) {
      try {
        const { name, created } = await pending;
        // A network this instance only joined belongs to the instance that made it (it may still use it).
        if (!created) continue;
        await this.docker.getNetwork(name).remove();
      } catch (error) {
        if (!isDockerNotFound(error)) failures.push(`network ${key}: ${dockerMessage(error)}`);
      }
    }
    this.networks.clear();
    return failures;
  }

  private async create(ctx: RunContext, containerId: string): Promise<RunNetwork> {
    const name = `cinnamon-qa-${ctx.poolId}-${ctx.runId}`.replace(/[^a-zA-Z0-9_.-]/g, '-').slice(0, 120);
    try {
      await this.docker.createNetwork({
        Name: name,
        CheckDuplicate: true,
        Driver: 'bridge',
        Labels: runLabels(ctx, undefined, this.owner),
        Options: { 'com.docker.network.bridge.enable_icc': 'false' },
      });
    } catch (error) {
      // 409: this run's network exists already (another runtime instance of the same run); join it.
      if (dockerStatusCode(error) === 409) return { name, created: false };
      throw runtimeError('docker', {
        containerId,
        stage: `create network ${name}`,
        cause: error,
        fix: 'Docker may be out of address pools: remove unused networks (docker network prune).',
      });
    }
    return { name, created: true };
  }
}
