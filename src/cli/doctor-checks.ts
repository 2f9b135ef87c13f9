import type { ChromiumLocation } from '../runtime/process/chromium-locator.js';
import type { DockerPingResult } from '../runtime/docker/docker-endpoint.js';
import type { RuntimeChoice } from '../runtime/select-runtime.js';
import type { CheckResult } from './check-result.js';
import { redactUrl } from '../store/redact-url.js';

/** @defaultValue 20.12: the package's `engines.node`. */
export const MIN_NODE_VERSION: readonly [number, number] = [20, 12];

export type ImageBuildability = { buildable: true; how: string } | { buildable: false; why: string; fix: string };
export type PortStatus = { free: true } | { free: false; code: string };
export type RedisPing = { ok: true; version?: string } | { ok: false; message: string };

/**
 * Everything the doctor looks at, behind one interface: the real probes talk to Docker, Redis and the
 * sockets; the unit tests pass fakes and check the verdicts and the fixes offered.
 */
export interface DoctorProbes {
  nodeVersion: string;
  /** Throws when @playwright/mcp is not installed. */
  mcpPackage(): { version: string };
  /** Where Docker is expected, for messages ("/var/run/docker.sock", DOCKER_HOST). */
  dockerEndpoint: string;
  pingDocker(): Promise<DockerPingResult>;
  /** The tag `docker/build-image.sh --print-tag` prints; throws with the script's error. */
  imageTag(): Promise<string>;
  imageExists(tag: string): Promise<boolean>;
  imageBuildability(): Promise<ImageBuildability>;
  /** Throws (PoolError with the fix) when no Chromium is found. */
  locateChromium(): ChromiumLocation;
  pingRedis(url: string): Promise<RedisPing>;
  portStatus(port: number): Promise<PortStatus>;
  /** The ports the kernel hands to outgoing connections (Linux ip_local_port_range); undefined where unknown. */
  ephemeralPorts(): PortRange | undefined;
}

export interface PortRange {
  low: number;
  high: number;
}

export interface DoctorOptions {
  /** Effective runtime choice (option or CINNAMON_POOL_RUNTIME, already applied). */
  runtime: RuntimeChoice;
  /** Where the choice came from, for messages. */
  runtimeSource: string;
  ports: readonly number[];
  redisUrl?: string | undefined;
  /** The `dockerImage` option; unset means the tag docker/build-image.sh prints. */
  image?: string | undefined;
}

/**
 * Checks what a run needs before it starts. Order follows the run's own start-up: tools, runtime (Docker and
 * image, or Chromium), store, ports; each result says what was found and the exact fix for a miss.
 */
export async function runDoctor(options: DoctorOptions, probes: DoctorProbes): Promise<CheckResult[]> {
  const results: CheckResult[] = [checkNode(probes.nodeVersion), checkMcpPackage(probes)];

  const docker = await checkDocker(options, probes);
  results.push(...docker.results);

  results.push(checkChromium(options, probes, docker.usable));
  results.push(await checkRedis(options.redisUrl, probes));
  results.push(await checkPorts(options.ports, probes));
  results.push(runtimeVerdict(options, docker.usable, results));
  return results;
}

function checkNode(version: string): CheckResult {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  const [needMajor, needMinor] = MIN_NODE_VERSION;
  const ok = major > needMajor || (major === needMajor && minor >= needMinor);
  return ok
    ? { name: 'Node.js', status: 'ok', detail: `v${version.replace(/^v/, '')}` }
    : { name: 'Node.js', status: 'fail', detail: `v${version.replace(/^v/, '')} is too old`, fix: `install Node.js ${needMajor}.${needMinor} or newer` };
}

function checkMcpPackage(probes: DoctorProbes): CheckResult {
  try {
    return { name: '@playwright/mcp', status: 'ok', detail: `${probes.mcpPackage().version} installed` };
  } catch (error) {
    return { name: '@playwright/mcp', status: 'fail', detail: messageOf(error), fix: 'npm ci (it is a dependency of @cinnamon-qa/containers)' };
  }
}

async function checkDocker(options: DoctorOptions, probes: DoctorProbes): Promise<{ results: CheckResult[]; usable: boolean }> {
  if (options.runtime === 'process') {
    const skipped = `not needed: process runtime (${options.runtimeSource})`;
    return {
      usable: false,
      results: [
        { name: 'Docker daemon', status: 'skip', detail: skipped },
        { name: 'Docker image', status: 'skip', detail: skipped },
      ],
    };
  }
  const required = options.runtime === 'docker';
  const missStatus = required ? 'fail' : 'warn';
  const fallback = required ? '' : '; runtime auto will use the process runtime';

  const ping = await probes.pingDocker();
  if (!ping.ok) {
    return {
      usable: false,
      results: [
        {
          name: 'Docker daemon',
          status: missStatus,
          detail: `no answer at ${probes.dockerEndpoint} (${ping.code})${fallback}`,
          fix: 'start Docker (`dockerd &`, or Docker Desktop), or point DOCKER_HOST at a daemon',
        },
        { name: 'Docker image', status: 'skip', detail: 'needs a Docker daemon' },
      ],
    };
  }
  const daemon: CheckResult = { name: 'Docker daemon', status: 'ok', detail: `answered at ${probes.dockerEndpoint}` };

  let tag: string;
  try {
    tag = options.image ?? (await probes.imageTag());
  } catch (error) {
    return {
      usable: false,
      results: [daemon, { name: 'Docker image', status: missStatus, detail: `cannot name the image: ${messageOf(error)}${fallback}`, fix: 'reinstall the package (npm install), then npx cinnamon-pool image build' }],
    };
  }
  if (await probes.imageExists(tag)) {
    return { usable: true, results: [daemon, { name: 'Docker image', status: 'ok', detail: `${tag} present` }] };
  }
  const build = await probes.imageBuildability();
  if (build.buildable) {
    return {
      // A run ('docker' or 'auto') builds a missing image itself (10 s to a few minutes): not a miss, but worth knowing.
      usable: true,
      results: [daemon, { name: 'Docker image', status: 'warn', detail: `${tag} not built yet; the run builds it first: ${build.how}`, fix: 'npx cinnamon-pool image build (now, to keep the first run fast)' }],
    };
  }
  return {
    usable: false,
    results: [daemon, { name: 'Docker image', status: missStatus, detail: `${tag} missing and cannot be built here: ${build.why}${fallback}`, fix: build.fix }],
  };
}

function checkChromium(options: DoctorOptions, probes: DoctorProbes, dockerUsable: boolean): CheckResult {
  const name = 'Chromium (process runtime)';
  if (options.runtime === 'docker') return { name, status: 'skip', detail: 'not needed: docker runtime (the image brings its own)' };
  try {
    const found = probes.locateChromium();
    return { name, status: 'ok', detail: `${found.executablePath} (${found.source === 'playwright' ? "Playwright's download" : found.source === 'path' ? 'on PATH' : 'configured'})` };
  } catch {
    // With Docker usable, auto never reaches for a local Chromium: only a warning.
    const needed = options.runtime === 'process' || !dockerUsable;
    return {
      name,
      status: needed ? 'fail' : 'warn',
      detail: needed ? 'none found' : 'none found (not needed while Docker is usable)',
      fix: `apt-get install -y chromium (Debian/Ubuntu) or npx playwright install chromium${needed && options.runtime === 'auto' ? '; or start Docker and build the image' : ''}`,
    };
  }
}

async function checkRedis(url: string | undefined, probes: DoctorProbes): Promise<CheckResult> {
  if (!url) return { name: 'Redis', status: 'skip', detail: 'not configured (REDIS_URL / --redis unset): the in-memory store is used' };
  const shown = redactUrl(url);
  const ping = await probes.pingRedis(url);
  if (ping.ok) return { name: 'Redis', status: 'ok', detail: `${shown} answered PING${ping.version ? ` (Redis ${ping.version})` : ''}` };
  return {
    name: 'Redis',
    status: 'fail',
    detail: `${shown}: ${ping.message}`,
    fix: 'start it (`redis-server --port 6379 --daemonize yes`), correct REDIS_URL, or unset REDIS_URL to use the in-memory store',
  };
}

async function checkPorts(ports: readonly number[], probes: DoctorProbes): Promise<CheckResult> {
  const statuses = await Promise.all(ports.map(async (port) => ({ port, status: await probes.portStatus(port) })));
  const busy = statuses.filter((s) => !s.status.free);
  const range = ports.length > 1 ? `${ports[0]}-${ports[ports.length - 1]}` : `${ports[0]}`;
  const ephemeral = ephemeralOverlap(ports, probes.ephemeralPorts());
  if (busy.length === 0) {
    if (!ephemeral) return { name: 'Pool ports', status: 'ok', detail: `127.0.0.1:${range} free` };
    return {
      name: 'Pool ports',
      status: 'warn',
      detail: `127.0.0.1:${range} free now, but ${ephemeral.detail}`,
      fix: ephemeral.fix,
    };
  }
  const first = busy[0]?.port ?? ports[0];
  return {
    name: 'Pool ports',
    status: 'fail',
    detail: `in use: ${busy.map((b) => `${b.port}${b.status.free ? '' : ` (${b.status.code})`}`).join(', ')}${ephemeral ? `; ${ephemeral.detail}` : ''}`,
    fix:
      `see who holds it: ss -tanp 'sport = :${first}'; leftover pool containers: docker rm -f $(docker ps -aq --filter label=cinnamon-qa.pool); ` +
      (ephemeral ? ephemeral.fix : 'or choose another basePort'),
  };
}

/**
 * Pool ports inside the kernel's ephemeral range: any outgoing connection of the machine (a browser, a Redis
 * client) may be given one of them, and a member's listen on it then fails EADDRINUSE, now or at a later start.
 */
export function ephemeralOverlap(ports: readonly number[], range: PortRange | undefined): { detail: string; fix: string } | undefined {
  if (!range) return undefined;
  const inside = ports.filter((p) => p >= range.low && p <= range.high);
  if (inside.length === 0) return undefined;
  const highestBase = Math.max(1, range.low - ports.length);
  return {
    detail: `${inside.length === ports.length ? 'all' : `${inside.length} of ${ports.length}`} inside the ephemeral range ${range.low}-${range.high}, where any outgoing connection may take one (EADDRINUSE at a member's start)`,
    fix: `choose a basePort of at most ${highestBase} (the default 3001 is), or reserve the ports: sysctl -w net.ipv4.ip_local_reserved_ports=${ports[0]}-${ports[ports.length - 1]}`,
  };
}

/** The last line: what `runtime` will resolve to, given everything above. Not a check of its own, so never a 'fail'. */
function runtimeVerdict(options: DoctorOptions, dockerUsable: boolean, results: readonly CheckResult[]): CheckResult {
  const kind = options.runtime === 'auto' ? (dockerUsable ? 'docker' : 'process') : options.runtime;
  const blocked = results.some((r) => r.status === 'fail');
  return {
    name: 'Runtime',
    status: blocked ? 'skip' : 'ok',
    detail: `${options.runtime} (${options.runtimeSource}) → ${kind}${blocked ? ', once the problems above are fixed' : ''}`,
  };
}


function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
