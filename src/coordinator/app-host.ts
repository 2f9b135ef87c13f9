import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { PoolError } from '../errors/pool-error.js';
import { APP_HOST_ENV_VAR } from './container-pool-options.js';

/**
 * The address a shard's app is opened at by browsers on other machines (shared mode): the `appHost` option
 * when given, else this machine's first non-internal IPv4 address (interfaces in the order the system lists
 * them). No such address: INVALID_OPTIONS naming the option and the variable to set.
 */
export function resolveAppHost(
  appHost: string | undefined,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): { host: string; reason: string } {
  if (appHost) return { host: appHost, reason: 'appHost' };
  for (const [name, infos] of Object.entries(interfaces)) {
    const ipv4 = infos?.find((i) => i.family === 'IPv4' && !i.internal);
    if (ipv4) return { host: ipv4.address, reason: `first non-internal IPv4, ${name}` };
  }
  throw new PoolError(
    'INVALID_OPTIONS',
    `Shared mode: this machine has no non-internal IPv4 address for the members' browsers to open the app at. ` +
      `Set appHost (or ${APP_HOST_ENV_VAR}) to an address or name other machines reach this one at.`,
    { what: 'appHost', problems: ['appHost: no non-internal IPv4 address to default to'] },
  );
}
