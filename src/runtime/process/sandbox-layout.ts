import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolError } from '../../errors/pool-error.js';
import type { RunContext } from '../container-runtime.js';

/** @defaultValue `<os.tmpdir()>/cqa-pool`: root of every process-runtime sandbox on this machine (short: see below). */
export const DEFAULT_SANDBOX_ROOT = join(tmpdir(), 'cqa-pool');

/**
 * Longest TMPDIR a member may get. Chromium creates `$TMPDIR/org.chromium.Chromium.XXXXXX/SingletonSocket`, a
 * unix socket whose path must fit sockaddr_un's 107 bytes, and aborts ("Socket path too long") otherwise:
 * 107 - 45 leaves 62; two spare. Folder names are shortened (prefix + hash) to stay within it.
 */
export const MAX_TMPDIR_LENGTH = 60;
/** Characters of the TMPDIR that are not the three folder names: `/pool/run/member/tmp` minus the names. */
const FIXED_PART = '/'.length * 3 + '/tmp'.length;
/** Shortest useful folder name (a hash prefix). */
const MIN_SEGMENT = 6;

/** Folders and files of one pool member. */
export interface SandboxPaths {
  /** The member's folder; removing it removes everything below. */
  dir: string;
  /** Working directory (MCP_WORKDIR): `.playwright-mcp/` output lands here. */
  workDir: string;
  /** HOME (MCP_HOME): browser caches and config. */
  homeDir: string;
  /** TMPDIR (MCP_TMPDIR): Chromium's temporary profiles. */
  tmpDir: string;
  /** The `--config` JSON of the server. */
  configPath: string;
  /** stdout and stderr of the server. Outside workDir so that cleaning the workspace keeps it. */
  logPath: string;
}

/**
 * All runs of one pool live here; reaping scans it. Named by the pool id (shortened when the root is long),
 * the same for every run so that a later run finds an earlier one's leftovers.
 */
export function poolDir(root: string, poolId: string): string {
  const room = namesRoom(root);
  return join(root, fit(poolId, Math.max(MIN_SEGMENT, Math.floor(room / 3)), root));
}

/** One run's folder, named by its run id (shortened when needed), under the pool's. */
export function runDir(root: string, ctx: RunContext): string {
  const pool = poolDir(root, ctx.poolId);
  const left = namesRoom(root) - (pool.length - root.length - 1);
  // Room is kept for the member names (container-1 ... container-64) so they stay readable too.
  const memberReserve = Math.max(MIN_SEGMENT, Math.min(12, Math.floor(left / 2)));
  return join(pool, fit(ctx.runId, left - memberReserve, root));
}

export function stateFilePath(runDirectory: string): string {
  return join(runDirectory, 'state.json');
}

export function sandboxPaths(runDirectory: string, containerId: string): SandboxPaths {
  const room = MAX_TMPDIR_LENGTH - '/tmp'.length - runDirectory.length - 1;
  const dir = join(runDirectory, fit(containerId, room, runDirectory));
  return {
    dir,
    workDir: join(dir, 'work'),
    homeDir: join(dir, 'home'),
    tmpDir: join(dir, 'tmp'),
    configPath: join(dir, 'mcp-config.json'),
    logPath: join(dir, 'server.log'),
  };
}

/** Characters left for the pool, run and member folder names together. */
function namesRoom(root: string): number {
  return MAX_TMPDIR_LENGTH - root.length - FIXED_PART;
}

/** `id` as a path segment of at most `room` characters: itself when it fits, else a prefix plus a hash. */
function fit(id: string, room: number, under: string): string {
  const safe = safeSegment(id);
  if (safe.length <= room) return safe;
  const hash = createHash('sha256').update(id).digest('hex');
  if (room >= 10) return `${safe.slice(0, room - 9)}-${hash.slice(0, 8)}`;
  if (room >= MIN_SEGMENT) return hash.slice(0, room);
  throw new PoolError(
    'RUNTIME_ERROR',
    `Process runtime: the sandbox folder ${under} is too long: Chromium needs its TMPDIR under ${MAX_TMPDIR_LENGTH} characters ` +
      '(its singleton socket path is limited). Fix: pass a shorter rootDir (e.g. /tmp/cqa-pool) or set TMPDIR to a short folder.',
    { operation: 'layout', under, limit: MAX_TMPDIR_LENGTH },
  );
}

/** Makes an id safe as one path segment: no separators, no `.`/`..`, nothing a shell would trip on. */
export function safeSegment(id: string): string {
  const cleaned = id.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 100);
  return cleaned === '' || /^\.+$/.test(cleaned) ? `_${cleaned}` : cleaned;
}
