import { z } from 'zod';

/**
 * Where the image expects its writable paths and which user it runs as. Read from the image itself (its ENV and
 * USER, set in docker/Dockerfile) so the tmpfs mounts of a read-only container always match the image they
 * serve, and an image that does not follow the exec environment contract is refused before a container exists.
 */
export interface ImageLayout {
  /** HOME of the server: Chromium profile and caches. */
  home: string;
  /** Working directory of the server: `.playwright-mcp/` output. */
  workdir: string;
  tmpdir: string;
  /** Holds the server pid file read by `mcp-exec`. */
  rundir: string;
  /** Numeric `uid:gid`; tmpfs mounts are owned by it. */
  uid: number;
  gid: number;
}

const absolutePath = z.string().regex(/^\/[^\s,]*$/, 'must be an absolute path without spaces or commas');

const layoutEnvSchema = z.object({
  MCP_HOME: absolutePath,
  MCP_WORKDIR: absolutePath,
  MCP_TMPDIR: absolutePath,
  MCP_RUNDIR: absolutePath,
});

/** Numeric, non-root `uid[:gid]`: a user name would need the image's /etc/passwd to resolve tmpfs owners. */
const userSchema = z
  .string()
  .regex(/^[1-9][0-9]*(:[0-9]+)?$/, 'must be a numeric non-root uid[:gid] (USER in docker/Dockerfile)');

export function imageLayoutFromInspect(image: string, config: { Env?: unknown; User?: unknown } | undefined): ImageLayout {
  const env = Object.fromEntries(
    (Array.isArray(config?.Env) ? config.Env : [])
      .filter((entry): entry is string => typeof entry === 'string' && entry.includes('='))
      .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
  );
  const parsedEnv = layoutEnvSchema.safeParse(env);
  const parsedUser = userSchema.safeParse(config?.User);
  if (!parsedEnv.success || !parsedUser.success) {
    const problems = [
      ...(parsedEnv.success ? [] : parsedEnv.error.issues.map((i) => `ENV ${i.path.join('.')}: ${i.message}`)),
      ...(parsedUser.success ? [] : [`USER ${JSON.stringify(config?.User ?? '')}: ${parsedUser.error.issues[0]?.message}`]),
    ];
    throw new Error(`image ${image} does not follow the cinnamon-qa image contract (${problems.join('; ')})`);
  }
  const [uid, gid] = parsedUser.data.split(':').map(Number) as [number, number | undefined];
  return {
    home: parsedEnv.data.MCP_HOME,
    workdir: parsedEnv.data.MCP_WORKDIR,
    tmpdir: parsedEnv.data.MCP_TMPDIR,
    rundir: parsedEnv.data.MCP_RUNDIR,
    uid,
    gid: gid ?? uid,
  };
}
