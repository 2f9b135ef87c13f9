import type Docker from 'dockerode';
import { newDockerClient } from '../runtime/docker/docker-client.js';
import { dockerEndpoint } from '../runtime/docker/docker-endpoint.js';
import { dockerWarmMemberAlive, endDockerWarmMember, type DockerWarmMember } from '../runtime/docker/docker-warm-members.js';
import { endWarmMember, warmMemberAlive, type WarmMember } from '../runtime/process/warm-members.js';

/** A member a warm pool left running: the process runtime's (server + guard) or the Docker runtime's (container). */
export type AnyWarmMember = WarmMember | DockerWarmMember;

/** SIGTERM → SIGKILL grace when a warm member is ended: nobody waits on it, its browser needs no long goodbye. */
export const WARM_END_GRACE_MS = 2_000;

/** The Docker client warm members are checked and ended through (DOCKER_HOST, else the local socket). */
export function warmDockerClient(env: NodeJS.ProcessEnv = process.env): Docker {
  return newDockerClient(dockerEndpoint(env).connection);
}

export function isDockerWarmMember(member: AnyWarmMember): member is DockerWarmMember {
  return 'dockerId' in member;
}

/** Whether a warm member still runs (process: the very server and guard processes; Docker: its container). */
export function anyWarmMemberAlive(member: AnyWarmMember, docker: () => Docker): Promise<boolean> {
  return isDockerWarmMember(member) ? dockerWarmMemberAlive(docker(), member) : Promise.resolve(warmMemberAlive(member));
}

/** Ends a warm member (and a Docker member's network once unused); returns what was ended, one line each. */
export function endAnyWarmMember(member: AnyWarmMember, docker: () => Docker): Promise<string[]> {
  return isDockerWarmMember(member) ? endDockerWarmMember(docker(), member, Math.ceil(WARM_END_GRACE_MS / 1000)) : endWarmMember(member, WARM_END_GRACE_MS);
}
