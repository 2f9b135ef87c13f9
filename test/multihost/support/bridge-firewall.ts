import { runCommand } from './run-command.js';

/**
 * dockerd sets the FORWARD policy to DROP, and with br_netfilter bridged frames pass iptables: without a rule,
 * namespaces on our bridge cannot reach each other. Docker jumps from FORWARD to DOCKER-USER first and keeps
 * that chain for rules like ours; without Docker (no DOCKER-USER) the rule goes straight into FORWARD, where it
 * is harmless under an ACCEPT policy and needed under DROP. Each rule carries a comment naming its network so
 * a sweep finds it after a crash.
 */
const CHAINS = ['DOCKER-USER', 'FORWARD'] as const;

async function iptablesPresent(): Promise<boolean> {
  return (await runCommand('iptables', ['--version'])).code === 0;
}

async function chainForRule(): Promise<(typeof CHAINS)[number]> {
  return (await runCommand('iptables', ['-S', 'DOCKER-USER'])).code === 0 ? 'DOCKER-USER' : 'FORWARD';
}

/** Admits bridge-to-bridge traffic on `bridge`; returns the undo. A machine without iptables needs no rule. */
export async function allowBridgeTraffic(bridge: string, comment: string): Promise<() => Promise<void>> {
  if (!(await iptablesPresent())) return async () => {};
  const chain = await chainForRule();
  const rule = ['-i', bridge, '-o', bridge, '-m', 'comment', '--comment', comment, '-j', 'ACCEPT'];
  const added = await runCommand('iptables', ['-I', chain, ...rule]);
  if (added.code !== 0) throw new Error(`iptables -I ${chain} for bridge ${bridge} failed: ${added.stderr.trim()}`);
  return async () => {
    await removeRules((c) => c === comment);
  };
}

/** Deletes every rule (in DOCKER-USER and FORWARD) whose comment `matches`; returns the comments it removed. */
export async function removeRules(matches: (comment: string) => boolean): Promise<string[]> {
  if (!(await iptablesPresent())) return [];
  const removed: string[] = [];
  for (const chain of CHAINS) {
    const listed = await runCommand('iptables', ['-S', chain]);
    if (listed.code !== 0) continue;
    for (const line of listed.stdout.split('\n')) {
      const comment = /--comment "?([^"\s]+)"?/.exec(line)?.[1];
      if (!line.startsWith(`-A ${chain} `) || comment === undefined || !matches(comment)) continue;
      const spec = line.slice(`-A ${chain} `.length).replace(/"/g, '').split(/\s+/).filter(Boolean);
      const deleted = await runCommand('iptables', ['-D', chain, ...spec]);
      if (deleted.code === 0) removed.push(comment);
    }
  }
  return removed;
}
