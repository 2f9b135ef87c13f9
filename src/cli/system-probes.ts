import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import Docker from 'dockerode';
import { locateChromium } from '../runtime/chromium-locator.js';
import { dockerEndpoint, pingDocker } from '../runtime/docker-endpoint.js';
import { resolveMcpPackage } from '../runtime/mcp-package.js';
import { DEFAULT_DOCKER_PING_TIMEOUT_MS } from '../runtime/select-runtime.js';
import type { DoctorProbes, ImageBuildability } from './doctor-checks.js';
import { baseImageTag, poolImageTag } from '../runtime/docker/pool-image.js';
import { portStatus } from './port-availability.js';
import { pingRedis } from './redis-ping.js';

/**
 * The doctor's probes on this machine. Docker is reached exactly as the run reaches it (DOCKER_HOST, else
 * the local socket; see docker-endpoint.ts), Chromium is searched for exactly as the process runtime does.
 */
export function systemProbes(root: string, env: NodeJS.ProcessEnv = process.env): DoctorProbes {
  const endpoint = dockerEndpoint(env);
  const docker = new Docker(endpoint.connection);
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
      if (env.BASE_IMAGE) return { buildable: true, how: `docker/build-image.sh builds FROM BASE_IMAGE=${env.BASE_IMAGE} (pulled if missing)` };
      const base = await baseImageTag(root, env).catch(() => undefined);
      if (base && (await imageExists(base))) return { buildable: true, how: `base ${base} is present, the build takes ~10 s` };
      if (process.getuid?.() === 0 && onPath('debootstrap', env)) {
        return { buildable: true, how: 'the offline base is built first with debootstrap, ~60 s in all' };
      }
      return {
        buildable: false,
        why: 'no base image, and building the offline one needs root and debootstrap',
        fix: 'as root: apt-get install -y debootstrap && bash docker/build-image.sh; or BASE_IMAGE=mcr.microsoft.com/playwright:<version>-noble bash docker/build-image.sh',
      };
    },
    locateChromium: () => locateChromium({ env }),
    pingRedis: (url) => pingRedis(url),
    portStatus: (port) => portStatus(port),
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
