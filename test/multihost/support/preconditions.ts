import { execFileSync } from 'node:child_process';

/**
 * Why the multi-host tier cannot run here, or undefined when it can. It needs root (namespaces, veths, iptables)
 * and iproute2's `ip`; CI runs as root on Debian, where both hold.
 */
export function multihostUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root: it creates network namespaces, veth pairs, a bridge and an iptables rule (run as root, as CI does)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return "needs iproute2's `ip` (apt-get install -y iproute2)";
  }
  return undefined;
}
