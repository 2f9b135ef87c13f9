import type Docker from 'dockerode';
import type { ContainerSpec } from '../../config/pool-config.js';
import { SANDBOX_MARKER_ENV, type StartContext } from '../container-runtime.js';
import type { RunOwner } from '../run-owner.js';
import { runLabels } from './docker-labels.js';
import type { ImageLayout } from './image-layout.js';

/** Sizes that are not per-container pool options; every one bounded so a runaway page cannot fill the host. */
export interface HardeningLimits {
  /** /dev/shm; Chromium renders through it and Docker's 64 MB default crashes tabs. */
  shmSizeMB: number;
  /** Processes + threads; Chromium with a few tabs uses about 150-250. */
  pidsLimit: number;
  tmpSizeMB: number;
  homeSizeMB: number;
  workdirSizeMB: number;
}

export interface ContainerOptionsInput {
  spec: ContainerSpec;
  ctx: StartContext;
  image: string;
  networkName: string;
  layout: ImageLayout;
  limits: HardeningLimits;
  /** Flags appended to the server's command line (docker/image/start-mcp.sh passes its arguments on). */
  serverArgs?: readonly string[];
  /** Variables for the server; MCP_PORT and the sandbox marker are listed after them, so they cannot be replaced. */
  serverEnv?: Readonly<Record<string, string>>;
  /** The process running the pool, stamped as labels so reaping spares a live run's containers. */
  owner?: RunOwner;
  /** Host interface the member port is published on. @defaultValue '127.0.0.1' */
  bindAddress?: string;
  /**
   * The address other machines reach the member at (a shared pool's host agent, issue 11): its guard also admits
   * Host `<advertisedHost>:<port>` (MCP_GUARD_HOSTS). @defaultValue none
   */
  advertisedHost?: string;
}

const MB = 1024 * 1024;

/**
 * The create request for one pool container. Everything that makes the container safe to hand to an untrusted
 * page lives here, in one place the integration test checks against `docker inspect`:
 * no capabilities, no privilege gain, read-only root with size-capped tmpfs for the paths the image declares,
 * non-root user, memory (and no extra swap), CPU and pids limits, port published on 127.0.0.1 only (a host agent
 * of a shared pool: its bind address, the guard admitting its advertised host), an init
 * process that reaps Chromium's orphans, a network where pool containers cannot reach each other, and no mounts
 * at all (in particular never the Docker socket).
 */
/** Docker's own health check may take this long (ns) before it counts as failed. */
export const HEALTHCHECK_TIMEOUT_NS = 10 * 1e9;

export function hardenedContainerOptions(input: ContainerOptionsInput): Docker.ContainerCreateOptions {
  const { spec, ctx, image, networkName, layout, limits, serverArgs = [], serverEnv = {}, owner: runOwner, bindAddress = '127.0.0.1', advertisedHost } = input;
  const portKey = `${spec.port}/tcp`;
  const owner = `uid=${layout.uid},gid=${layout.gid}`;
  // noexec everywhere: Chromium and node run from the read-only image, nothing needs to execute from a tmpfs.
  const tmpfs = (sizeMB: number, mode: string, owned: boolean) =>
    `rw,nosuid,nodev,noexec,size=${sizeMB}m,mode=${mode}${owned ? `,${owner}` : ''}`;
  return {
    name: spec.name,
    Image: image,
    Hostname: spec.name,
    User: `${layout.uid}:${layout.gid}`,
    // The server listens on the port number it is published on, so the Host header clients send
    // (localhost:PORT) is the one its --allowed-hosts accepts.
    // The sandbox marker (the container name, unique on this Docker host) is inherited by everything started
    // in the container: cleanup finds what a holder double-forked, re-parented to init, by it. mcp-exec hands
    // its value to exec'd commands as MCP_SANDBOX.
    // MCP_GUARD_KEY / MCP_GUARD_MEMBER: the pool's public key and the member id, for the guard (start-mcp.sh keeps
    // them from the server).
    Env: [
      ...Object.entries(serverEnv).map(([k, v]) => `${k}=${v}`),
      `MCP_PORT=${spec.port}`,
      `${SANDBOX_MARKER_ENV}=${spec.name}`,
      `MCP_GUARD_KEY=${ctx.guardKey(spec.id)}`,
      `MCP_GUARD_MEMBER=${spec.id}`,
      ...(advertisedHost ? [`MCP_GUARD_HOSTS=${advertisedHost}:${spec.port}`] : []),
    ],
    // Passed at creation rather than baked into the image, so a change here needs no image rebuild.
    Cmd: [...serverArgs],
    Labels: runLabels(ctx, spec.id, runOwner),
    ExposedPorts: { [portKey]: {} },
    // The image's HEALTHCHECK (every 3 s, 3 tries) with a longer timeout: its 2 s is too short for starting node on
    // a member's CPU share when the machine is busy (load 30, seen in the multi-host tests), and three timeouts in a
    // row make Docker report the member unhealthy, which fails it and revokes its holder. Docker keeps the image's
    // command, interval and retries for the fields left out here (checked on Docker 28).
    Healthcheck: { Timeout: HEALTHCHECK_TIMEOUT_NS },
    HostConfig: {
      PortBindings: { [portKey]: [{ HostIp: bindAddress, HostPort: String(spec.port) }] },
      NetworkMode: networkName,
      ExtraHosts: ['host.docker.internal:host-gateway'],
      Init: true,
      Memory: spec.memoryMB * MB,
      // Equal to Memory: no swap on top, so the limit is what the container really gets.
      MemorySwap: spec.memoryMB * MB,
      NanoCpus: Math.round((spec.cpuPercent / 100) * 1e9),
      PidsLimit: limits.pidsLimit,
      ShmSize: limits.shmSizeMB * MB,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      Privileged: false,
      ReadonlyRootfs: true,
      Tmpfs: {
        [layout.tmpdir]: tmpfs(limits.tmpSizeMB, '1777', false),
        [layout.home]: tmpfs(limits.homeSizeMB, '0700', true),
        [layout.workdir]: tmpfs(limits.workdirSizeMB, '0755', true),
        [layout.rundir]: tmpfs(1, '0700', true),
      },
      // The pool decides about restarts (hard reset, recreate); an automatic restart would hide a death.
      RestartPolicy: { Name: 'no' },
    },
  };
}
