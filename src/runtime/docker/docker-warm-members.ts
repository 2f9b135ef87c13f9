import { readFileSync } from 'node:fs';
import type Docker from 'dockerode';
import { z } from 'zod';
import { dockerMessage, dockerStatusCode, isDockerNotFound } from './docker-error.js';
import { CONTAINER_LABEL } from './docker-labels.js';

/**
 * A member the Docker runtime left running for the next run (issue 13, `reuse`): its container and the network
 * it is on (the warm pool's own, shared by its members).
 */
export const dockerWarmMemberSchema = z
  .object({
    containerId: z.string().min(1),
    dockerId: z.string().regex(/^[0-9a-f]{12,64}$/),
    name: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    network: z.string().min(1),
  })
  .strict();
export type DockerWarmMember = z.output<typeof dockerWarmMemberSchema>;

/** `src/runtime/docker/sh/replace-guard.sh` (its header says what it does); read once, on first use. */
let replaceGuardScript: string | undefined;
export function replaceGuardArgv(publicKey: string, idleMs: number): string[] {
  replaceGuardScript ??= readFileSync(new URL('./sh/replace-guard.sh', import.meta.url), 'utf8');
  return ['sh', '-c', replaceGuardScript, 'cq', publicKey, String(idleMs)];
}

/** Whether the recorded container still runs (an idle stop or a kill leaves it exited). */
export async function dockerWarmMemberAlive(docker: Docker, member: DockerWarmMember): Promise<boolean> {
  try {
    const info = await docker.getContainer(member.dockerId).inspect();
    return info.State.Running === true && info.Config.Labels?.[CONTAINER_LABEL] === member.containerId;
  } catch {
    return false;
  }
}

/**
 * Removes a warm member's container (a graceful stop first, so its browser closes) and then its network once no
 * container uses it any more. Returns what was removed, one line each; gone ones are fine.
 */
export async function endDockerWarmMember(docker: Docker, member: DockerWarmMember, stopSeconds: number): Promise<string[]> {
  const ended: string[] = [];
  const container = docker.getContainer(member.dockerId);
  await container.stop({ t: stopSeconds }).catch(() => undefined);
  try {
    await container.remove({ force: true, v: true });
    ended.push(`${member.containerId} container ${member.name}`);
  } catch (error) {
    if (!isDockerNotFound(error) && dockerStatusCode(error) !== 409) throw new Error(`removing container ${member.name}: ${dockerMessage(error)}`);
  }
  try {
    await docker.getNetwork(member.network).remove();
    ended.push(`network ${member.network}`);
  } catch (error) {
    // 403/409: another member still uses it (removed with the last one); 404: gone already.
    if (!isDockerNotFound(error) && dockerStatusCode(error) !== 403 && dockerStatusCode(error) !== 409) {
      throw new Error(`removing network ${member.network}: ${dockerMessage(error)}`);
    }
  }
  return ended;
}
