import { z } from 'zod';
import { parseOptions } from '../config/parse-options.js';
import { PoolError } from '../errors/pool-error.js';
import { dockerEndpoint, pingDocker, type DockerEndpoint, type DockerPingResult } from './docker/docker-endpoint.js';

export const RUNTIME_CHOICES = ['auto', 'docker', 'process'] as const;
export type RuntimeChoice = (typeof RUNTIME_CHOICES)[number];
const runtimeChoiceSchema = z.enum(RUNTIME_CHOICES);

/** @defaultValue 'auto': Docker when its daemon answers and the pool image is available, else the process runtime. */
export const DEFAULT_RUNTIME_CHOICE: RuntimeChoice = 'auto';

/** Environment variable that overrides the `runtime` option (CI jobs switch runtime without code changes). */
export const RUNTIME_ENV_VAR = 'CINNAMON_POOL_RUNTIME';

/** @defaultValue 1500 ms: how long 'auto' waits for a Docker daemon before choosing the process runtime. */
export const DEFAULT_DOCKER_PING_TIMEOUT_MS = 1_500;

export interface RuntimeDecision {
  kind: 'docker' | 'process';
  /** One line for the log: "docker: daemon answered at /var/run/docker.sock and image ... is present". */
  reason: string;
}

export interface ImageAvailability {
  ok: boolean;
  /** Completes "image ...": e.g. "image cinnamon-qa/mcp:1 is present" or "image cinnamon-qa/mcp:1 cannot be built: ...". */
  reason: string;
}

/** selectRuntime's plain options; what it is handed (image check, environment, ping) stays outside. */
export const selectRuntimeOptionsSchema = z
  .object({
    /** The `runtime` option. @defaultValue {@link DEFAULT_RUNTIME_CHOICE} */
    requested: runtimeChoiceSchema.default(DEFAULT_RUNTIME_CHOICE),
    /** How long to wait for the Docker daemon's answer, ms. @defaultValue {@link DEFAULT_DOCKER_PING_TIMEOUT_MS} */
    pingTimeoutMs: z.number().int().positive().default(DEFAULT_DOCKER_PING_TIMEOUT_MS),
  })
  .strict();

export interface SelectRuntimeOptions extends z.input<typeof selectRuntimeOptionsSchema> {
  /** Checks that the pool image exists or can be built; only called when a daemon answered. */
  dockerImageAvailable: () => Promise<ImageAvailability>;
  /** Read for CINNAMON_POOL_RUNTIME and DOCKER_HOST. @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
  /** @defaultValue a dockerode ping of the endpoint */
  pingDocker?: (endpoint: DockerEndpoint, timeoutMs: number) => Promise<DockerPingResult>;
}

/**
 * Decides where the pool's containers run. 'auto' takes Docker when its daemon answers and the pool image is
 * available, otherwise the process runtime; an explicit 'docker' fails loudly instead of falling back, since
 * the user asked for its isolation. CINNAMON_POOL_RUNTIME overrides the option.
 */
export async function selectRuntime(options: SelectRuntimeOptions): Promise<RuntimeDecision> {
  const { dockerImageAvailable, env = process.env, pingDocker: pingDaemon = pingDocker, ...plain } = options;
  const { requested, pingTimeoutMs } = parseOptions(selectRuntimeOptionsSchema, plain, 'selectRuntime options');
  const fromEnv = env[RUNTIME_ENV_VAR]?.trim();
  let choice: RuntimeChoice = requested;
  let source = plain.requested ? `runtime: '${requested}'` : 'the default';
  if (fromEnv) {
    const fromEnvChoice = runtimeChoiceSchema.safeParse(fromEnv);
    if (!fromEnvChoice.success) {
      throw new PoolError(
        'INVALID_OPTIONS',
        `${RUNTIME_ENV_VAR}=${JSON.stringify(fromEnv)} is not a runtime; use one of ${RUNTIME_CHOICES.join(', ')}, or unset it.`,
        { variable: RUNTIME_ENV_VAR, value: fromEnv },
      );
    }
    choice = fromEnvChoice.data;
    source = `${RUNTIME_ENV_VAR}=${fromEnv}`;
  }

  if (choice === 'process') return { kind: 'process', reason: `process: requested by ${source}` };

  const endpoint = dockerEndpoint(env);
  const ping = await pingDaemon(endpoint, pingTimeoutMs);

  if (choice === 'docker') {
    if (!ping.ok) {
      throw new PoolError(
        'RUNTIME_ERROR',
        `Docker runtime requested by ${source}, but no Docker daemon answers at ${endpoint.description} (${ping.code}). ` +
          `Start Docker (e.g. \`dockerd\` / Docker Desktop), point DOCKER_HOST at a daemon, or use runtime: 'process'.`,
        { operation: 'select-runtime', endpoint: endpoint.description, code: ping.code, detail: ping.message },
      );
    }
    return { kind: 'docker', reason: `docker: requested by ${source}; daemon answered at ${endpoint.description}` };
  }

  if (!ping.ok) return { kind: 'process', reason: `process: no Docker daemon at ${endpoint.description} (${ping.code})` };
  let image: ImageAvailability;
  try {
    image = await dockerImageAvailable();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { kind: 'process', reason: `process: Docker daemon answered at ${endpoint.description} but the image check failed: ${message}` };
  }
  if (!image.ok) return { kind: 'process', reason: `process: Docker daemon answered at ${endpoint.description} but ${image.reason}` };
  return { kind: 'docker', reason: `docker: daemon answered at ${endpoint.description} and ${image.reason}` };
}
