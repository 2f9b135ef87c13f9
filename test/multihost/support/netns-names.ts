/**
 * Every name a test network creates, built in one place from one prefix and a short id, so that a later run can
 * find a crashed run's leftovers by prefix. Interface names are limited to 15 characters (IFNAMSIZ - 1).
 */

/** @defaultValue 'cq' */
export const DEFAULT_NETNS_PREFIX = 'cq';
const IFNAMSIZ_MAX = 15;
/** Where per-host TMPDIRs go: /tmp, not os.tmpdir() (a long TMPDIR would push unix socket paths past 107 bytes). */
export const SHORT_TMP_ROOT = '/tmp';

export interface NetworkNames {
  readonly prefix: string;
  readonly id: string;
  /** The bridge in the root namespace, e.g. `cqb-k3x9`. */
  readonly bridge: string;
  /** The comment on our iptables rule (how a sweep finds it). */
  readonly ruleComment: string;
  namespace(host: string): string;
  /** Root-side end of host number `index`'s veth pair. */
  vethRoot(index: number): string;
  /** The other end, before it moves into the namespace and becomes `eth0`. */
  vethPeer(index: number): string;
}

export function networkNames(prefix: string, id: string): NetworkNames {
  if (!/^[a-z]{1,3}$/.test(prefix)) throw new Error(`netns prefix '${prefix}': use 1-3 lower-case letters (interface names are limited to 15 characters)`);
  if (!/^[a-z0-9]{4}$/.test(id)) throw new Error(`netns id '${id}': use 4 lower-case letters or digits`);
  const checked = (name: string): string => {
    if (name.length > IFNAMSIZ_MAX) throw new Error(`interface name '${name}' is longer than ${IFNAMSIZ_MAX} characters`);
    return name;
  };
  return {
    prefix,
    id,
    bridge: checked(`${prefix}b-${id}`),
    ruleComment: `${prefix}-${id}`,
    namespace: (host) => `${prefix}-${id}-${host}`,
    vethRoot: (index) => checked(`${prefix}v-${id}-${index}`),
    vethPeer: (index) => checked(`${prefix}p-${id}-${index}`),
  };
}

/**
 * The network id inside a name this module built with `prefix` (a bridge, veth, namespace, TMPDIR folder or rule
 * comment), or undefined for any other name. Whole-name patterns: a sweep must never take someone else's file.
 */
export function idOfName(prefix: string, name: string): string | undefined {
  const id = '([a-z0-9]{4})';
  const patterns = [
    new RegExp(`^${prefix}b-${id}$`), // bridge
    new RegExp(`^${prefix}[vp]-${id}-\\d{1,3}$`), // veth ends
    new RegExp(`^${prefix}-${id}(?:-[a-z0-9]{1,8})?$`), // rule comment; namespace and TMPDIR folder
  ];
  for (const pattern of patterns) {
    const match = pattern.exec(name);
    if (match) return match[1];
  }
  return undefined;
}
