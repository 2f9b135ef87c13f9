import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { newDockerClient } from '../runtime/docker/docker-client.js';
import { locateChromium } from '../runtime/process/chromium-locator.js';
import { dockerEndpoint, pingDocker } from '../runtime/docker/docker-endpoint.js';
import { resolveMcpPackage } from '../runtime/process/mcp-package.js';
import { DEFAULT_DOCKER_PING_TIMEOUT_MS } from '../runtime/select-runtime.js';
import type { DoctorProbes, ImageBuildability } from './doctor-checks.js';
import { baseImageTag, poolImageTag } from '../runtime/docker/pool-image.js';
import { ephemeralPorts, portStatus } from './port-availability.js';
import { pingRedis } from './redis-ping.js';

/**
 * The doctor's probes on this machine. Docker is reached exactly as the run reaches it (DOCKER_HOST, else
 * the local socket; see docker-endpoint.ts), Chromium is searched for exactly as the process runtime does.
 */
export function systemProbes(root: string, env: NodeJS.ProcessEnv = process.env): DoctorProbes {
  const endpoint = dockerEndpoint(env);
  const docker = newDockerClient(endpoint.connection);
  const imageExists = async (tag: string): Promise<boolean> => {
    try {
      await docker.getImage(tag).inspect();
      return true;
    } catch {
      return false;
    }
  };

  return {
    nodeVersion: process.versions.node,
    mcpPackage: () => resolveMcpPackage(),
    dockerEndpoint: endpoint.description,
    pingDocker: () => pingDocker(endpoint, DEFAULT_DOCKER_PING_TIMEOUT_MS),
    imageTag: () => poolImageTag(root, env),
    imageExists,
    imageBuildability: async (): Promise<ImageBuildability> => {
      const mode = env.BASE_IMAGE?.trim() || 'auto';
      if (mode === 'playwright') return { buildable: true, how: 'the build pulls the official Playwright image (BASE_IMAGE=playwright; needs a registry)' };
      if (mode !== 'auto' && mode !== 'offline') return { buildable: true, how: `the build runs FROM BASE_IMAGE=${mode} (pulled if missing)` };
      const base = await baseImageTag(root, env).catch(() => undefined);
      if (base && (await imageExists(base))) return { buildable: true, how: `offline base ${base} is present, the build takes ~10 s` };
      const offline = process.getuid?.() === 0 && onPath('debootstrap', env);
      if (mode === 'auto') {
        return {
          buildable: true,
          how: offline
            ? 'the build pulls the official Playwright image, or without a registry builds the offline base with debootstrap (~90 s)'
            : 'the build pulls the official Playwright image (needs a registry; the offline fallback needs root and debootstrap)',
        };
      }
      if (offline) return { buildable: true, how: 'the offline base is built first with debootstrap, ~90 s in all' };
      return {
        buildable: false,
        why: 'BASE_IMAGE=offline, and building the offline base needs root and debootstrap',
        fix: 'as root: apt-get install -y debootstrap && npx cinnamon-pool image build; or unset BASE_IMAGE to use the official Playwright image',
      };
    },
    locateChromium: () => locateChromium({ env }),
    pingRedis: (url) => pingRedis(url),
    portStatus: (port) => portStatus(port),
    ephemeralPorts: () => ephemeralPorts(),
  };
}

function onPath(command: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? '').split(delimiter).some((dir) => {
    if (!dir) return false;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
