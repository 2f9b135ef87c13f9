import type { Clock } from '../clock/clock.js';
import type { McpServerConfig } from '../config/schemas.js';
import { PoolError } from '../errors/pool-error.js';
import { packageRoot } from '../runtime/package-root.js';
import { buildPoolImage, poolImageTag } from '../runtime/docker/pool-image.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { newDockerClient } from '../runtime/docker/docker-client.js';
import { dockerEndpoint } from '../runtime/docker/docker-endpoint.js';
import { DockerRuntime } from '../runtime/docker/docker-runtime.js';
import { ProcessRuntime } from '../runtime/process/process-runtime.js';
import { selectRuntime, type RuntimeChoice, type RuntimeDecision } from '../runtime/select-runtime.js';

export interface RuntimePlan {
  decision: RuntimeDecision;
  /** The image the docker runtime will run (decided with the runtime). */
  image?: string;
}

/**
 * Decides the runtime (see selectRuntime) and, for Docker, the image. When a daemon answers and the image is
 * missing, it is built with docker/build-image.sh (`npx cinnamon-pool image build` does the same ahead of time;
 * progress on stderr; a minute or more the first time): with 'auto' a failed build falls back to the process
 * runtime and the reason says why, with 'docker' it fails.
 */
export async function planRuntime(requested: RuntimeChoice, options: { dockerImage?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RuntimePlan> {
  const env = options.env ?? process.env;
  let image: string | undefined;
  const decision = await selectRuntime({
    requested,
    env,
    dockerImageAvailable: async () => {
      image = options.dockerImage ?? (await poolImageTag(packageRoot(import.meta.url), env));
      if (await imagePresent(image, env)) return { ok: true, reason: `image ${image} is present` };
      if (options.dockerImage) return { ok: false, reason: `image ${image} (option dockerImage) does not exist on the daemon` };
      try {
        image = await buildImage(env);
        return { ok: true, reason: `image ${image} was built` };
      } catch (error) {
        return { ok: false, reason: `image ${image} is missing and could not be built (${error instanceof Error ? error.message.split('\n')[0] : String(error)})` };
      }
    },
  });
  if (decision.kind !== 'docker') return { decision };
  image ??= options.dockerImage ?? (await poolImageTag(packageRoot(import.meta.url), env));
  if (!(await imagePresent(image, env))) {
    if (options.dockerImage) {
      throw new PoolError('RUNTIME_ERROR', `Docker image ${image} (option dockerImage) does not exist on the daemon. Build or load it, or drop the option to use the pool's own image.`, {
        operation: 'select-runtime',
        image,
      });
    }
    image = await buildImage(env);
    return { decision: { ...decision, reason: `${decision.reason}; built image ${image}` }, image };
  }
  return { decision, image };
}

/** `mcpServer`: the pool option of that name, applied the same way by both runtimes. */
export function createRuntime(plan: RuntimePlan, clock: Clock, mcpServer: McpServerConfig = { webmcp: false }): ContainerRuntime {
  if (plan.decision.kind === 'docker') {
    if (!plan.image) throw new PoolError('RUNTIME_ERROR', 'Internal: docker runtime chosen without an image.', { operation: 'create-runtime' });
    return new DockerRuntime({ image: plan.image, clock, webmcp: mcpServer.webmcp });
  }
  return new ProcessRuntime({ clock, webmcp: mcpServer.webmcp });
}

async function imagePresent(tag: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  try {
    await newDockerClient(dockerEndpoint(env).connection).getImage(tag).inspect();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

/** Builds the missing pool image, saying so first and how long it took after; resolves to the tag built. */
async function buildImage(env: NodeJS.ProcessEnv): Promise<string> {
  process.stderr.write(
    '[cinnamon-pool] the MCP server image is missing: building it now (a minute or more the first time; ' +
      '`npx cinnamon-pool image build` does this ahead of a run)\n',
  );
  try {
    const { tag, durationMs } = await buildPoolImage(packageRoot(import.meta.url), { env });
    process.stderr.write(`[cinnamon-pool] built the MCP server image ${tag} in ${(durationMs / 1000).toFixed(1)} s\n`);
    return tag;
  } catch (error) {
    throw new PoolError(
      'RUNTIME_ERROR',
      `Building the pool image failed: ${error instanceof Error ? error.message : String(error)}\n` +
        "Fix the build (see `npx cinnamon-pool doctor`), or use runtime: 'process'.",
      { operation: 'build-image' },
      { cause: error },
    );
  }
}
