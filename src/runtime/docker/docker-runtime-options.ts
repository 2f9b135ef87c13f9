import type Docker from 'dockerode';
import { z } from 'zod';
import type { Clock } from '../../clock/clock.js';
import { parseOptions } from '../../config/parse-options.js';
import { DEFAULT_MCP_WEBMCP } from '../../config/schemas.js';
import { DEFAULT_EXEC_TIMEOUT_MS } from '../container-runtime.js';

/** @defaultValue 512 MB of /dev/shm per container (at least 256: Chromium renders through it). */
export const DEFAULT_SHM_SIZE_MB = 512;
/** @defaultValue 1024 processes + threads per container; Chromium uses about 150-250. */
export const DEFAULT_PIDS_LIMIT = 1024;
/** @defaultValue 512 MB: /tmp holds Chromium's per-session profiles. Counts against the memory limit. */
export const DEFAULT_TMP_SIZE_MB = 512;
/** @defaultValue 128 MB: HOME holds font and crash-report caches. */
export const DEFAULT_HOME_SIZE_MB = 128;
/** @defaultValue 256 MB: the working directory holds `.playwright-mcp/` snapshots and screenshots. */
export const DEFAULT_WORKDIR_SIZE_MB = 256;
/** @defaultValue 5 s between SIGTERM and SIGKILL on stop/restart (the server exits at once on SIGTERM). */
export const DEFAULT_STOP_TIMEOUT_SECONDS = 5;

const NO_IMAGE = 'needs an image tag: run `npx cinnamon-pool image build` and pass the tag it prints';

/** The Docker runtime's plain options; what it is handed (clock, Docker client) stays outside. */
export const dockerRuntimeOptionsSchema = z
  .object({
    /** Image to run, e.g. the tag printed by `npx cinnamon-pool image build`. */
    image: z.string({ error: NO_IMAGE }).min(1, { error: NO_IMAGE }),
    /** Socket path of the local daemon when no client is given. @defaultValue dockerode's own: DOCKER_HOST, else /var/run/docker.sock */
    socketPath: z.string().min(1).optional(),
    /** Extra `@playwright/mcp` CLI flags, after the pool's own (see mcpServerLifecycleArgs). @defaultValue none */
    serverArgs: z.array(z.string()).readonly().optional(),
    /** Expose tools pages register through WebMCP (`webmcp_*`); the pool option `mcpServer.webmcp`. @defaultValue {@link DEFAULT_MCP_WEBMCP} */
    webmcp: z.boolean().default(DEFAULT_MCP_WEBMCP),
    /** /dev/shm per container, MB (256-16384). @defaultValue {@link DEFAULT_SHM_SIZE_MB} */
    shmSizeMB: z.number().int().min(256).max(16_384).default(DEFAULT_SHM_SIZE_MB),
    /** Processes + threads per container (64-65536). @defaultValue {@link DEFAULT_PIDS_LIMIT} */
    pidsLimit: z.number().int().min(64).max(65_536).default(DEFAULT_PIDS_LIMIT),
    /** /tmp tmpfs per container, MB (16-65536). @defaultValue {@link DEFAULT_TMP_SIZE_MB} */
    tmpSizeMB: z.number().int().min(16).max(65_536).default(DEFAULT_TMP_SIZE_MB),
    /** HOME tmpfs per container, MB (16-65536). @defaultValue {@link DEFAULT_HOME_SIZE_MB} */
    homeSizeMB: z.number().int().min(16).max(65_536).default(DEFAULT_HOME_SIZE_MB),
    /** Working-directory tmpfs per container, MB (16-65536). @defaultValue {@link DEFAULT_WORKDIR_SIZE_MB} */
    workdirSizeMB: z.number().int().min(16).max(65_536).default(DEFAULT_WORKDIR_SIZE_MB),
    /**
     * Time between SIGTERM and SIGKILL when a member is restarted in place, s (0-300). A member that is stopped is
     * removed at once: nothing of it outlives its container. @defaultValue {@link DEFAULT_STOP_TIMEOUT_SECONDS}
     */
    stopTimeoutSeconds: z.number().int().min(0).max(300).default(DEFAULT_STOP_TIMEOUT_SECONDS),
    /** exec() budget when the call gives none, ms. @defaultValue {@link DEFAULT_EXEC_TIMEOUT_MS} */
    defaultExecTimeoutMs: z.number().int().positive().default(DEFAULT_EXEC_TIMEOUT_MS),
    /** Host interface member ports are published on; a shared pool's host agent uses '0.0.0.0'. @defaultValue '127.0.0.1' */
    bindAddress: z.string().min(1).default('127.0.0.1'),
    /** Address other machines reach the members at (no port): their guards admit Host `<it>:<port>`. @defaultValue none */
    advertisedHost: z.string().regex(/^[^\s/:*,]+$/, 'an IP address or DNS name without a port').optional(),
    /**
     * Members of a warm pool (issue 13, option reuse): each guard stops its member after this long with no
     * connection (set when members are kept or taken over), and Docker's own health check is off for them (it
     * goes through the guard every 3 s, so the member would never be idle). @defaultValue none
     */
    warmIdleMs: z.number().int().positive().optional(),
  })
  .strict();

export interface DockerRuntimeOptions extends z.input<typeof dockerRuntimeOptionsSchema> {
  clock: Clock;
  /** A ready Docker client (remote hosts, tests). Default: dockerode's own (DOCKER_HOST, else the local socket). */
  docker?: Docker;
}

export type DockerRuntimeConfig = z.output<typeof dockerRuntimeOptionsSchema> & Pick<DockerRuntimeOptions, 'clock' | 'docker'>;

/**
 * Validates and defaults the plain options (one INVALID_OPTIONS listing every bad field, unknown keys included)
 * before anything talks to Docker; the handed-in parts (clock, client) pass through.
 */
export function parseDockerRuntimeOptions(options: DockerRuntimeOptions): DockerRuntimeConfig {
  const { clock, docker, ...plain } = options;
  return { ...parseOptions(dockerRuntimeOptionsSchema, plain, 'DockerRuntime options'), clock, docker };
}
