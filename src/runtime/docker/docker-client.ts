import { createRequire } from 'node:module';
import type Dockerode from 'dockerode';

const load = createRequire(import.meta.url);
let dockerode: typeof Dockerode | undefined;

/**
 * A dockerode client, the library loaded on first use. Every Playwright worker loads the config, and so this
 * package, yet only the runner's globalSetup talks to Docker: loading dockerode up front cost each of those
 * processes about 0.1 s of CPU before its first test (issue 13).
 */
export function newDockerClient(options?: Dockerode.DockerOptions): Dockerode {
  dockerode ??= load('dockerode') as typeof Dockerode;
  return new dockerode(options);
}
