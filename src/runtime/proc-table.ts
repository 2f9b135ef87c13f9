import { readdirSync, readFileSync } from 'node:fs';

/**
 * Linux reports CPU time in /proc in USER_HZ ticks. The kernel fixes USER_HZ at 100 for the userspace ABI on
 * every architecture Node supports, so it is a constant here rather than a sysconf call Node cannot make.
 */
export const CLOCK_TICKS_PER_SECOND = 100;

/** One row of the process table, read from /proc/<pid>/stat. */
export interface ProcEntry {
  pid: number;
  ppid: number;
  pgid: number;
  /** R, S, D, Z (zombie), T, ... */
  state: string;
  /** utime + stime in clock ticks. */
  cpuTicks: number;
  /** Start time in clock ticks after boot: with the pid it names one process even after pid reuse. */
  startTime: number;
}

/** Parses the text of /proc/<pid>/stat; undefined when it is not in the expected shape. */
export function parseProcStat(text: string): ProcEntry | undefined {
  // The command name (field 2) is in parentheses and may itself hold spaces and parentheses: split after the
  // last ')' so a process named "a) b" cannot shift the fields.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); field n is rest[n - 3].
  const field = (n: number): number => Number(rest[n - 3]);
  const entry: ProcEntry = {
    pid,
    state: rest[0] ?? '?',
    ppid: field(4),
    pgid: field(5),
    cpuTicks: field(14) + field(15),
    startTime: field(22),
  };
  return Number.isInteger(entry.pid) && Number.isInteger(entry.pgid) && Number.isFinite(entry.cpuTicks) ? entry : undefined;
}

export function readProcEntry(pid: number): ProcEntry | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Every process visible in /proc; processes that vanish while being read are skipped. */
export function listProcesses(): ProcEntry[] {
  const entries: ProcEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const entry = readProcEntry(Number(name));
    if (entry) entries.push(entry);
  }
  return entries;
}

/**
 * The process tree under `rootPid` (root included) plus every live member of its process group: Chromium
 * helpers whose parent died are re-parented away from the tree but keep the group.
 */
export function processTree(rootPid: number, table: readonly ProcEntry[] = listProcesses()): ProcEntry[] {
  const children = new Map<number, ProcEntry[]>();
  for (const entry of table) {
    const list = children.get(entry.ppid);
    if (list) list.push(entry);
    else children.set(entry.ppid, [entry]);
  }
  const found = new Map<number, ProcEntry>();
  const root = table.find((e) => e.pid === rootPid);
  const stack = root ? [root] : [];
  while (stack.length) {
    const entry = stack.pop()!;
    if (found.has(entry.pid)) continue;
    found.set(entry.pid, entry);
    stack.push(...(children.get(entry.pid) ?? []));
  }
  for (const entry of table) if (entry.pgid === rootPid) found.set(entry.pid, entry);
  return [...found.values()].filter((e) => e.state !== 'Z');
}

/** Live (non-zombie) members of a process group. */
export function groupMembers(pgid: number, table: readonly ProcEntry[] = listProcesses()): ProcEntry[] {
  return table.filter((e) => e.pgid === pgid && e.state !== 'Z');
}

/**
 * Memory a process accounts for, in kB: its proportional set size (PSS, from smaps_rollup), falling back to
 * VmRSS where the kernel lacks smaps_rollup. PSS splits each shared page among its sharers, so the sum over
 * a Chromium tree is the memory the tree really holds; summed RSS counts the shared pages once per process
 * and reads two to three times too high, which would trip a memory threshold on a healthy browser.
 */
export function readMemoryKb(pid: number): number {
  try {
    const match = /^Pss:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    if (match) return Number(match[1]);
  } catch {
    // Older kernel, or the process is gone: try status.
  }
  return readRssKb(pid);
}

/** Resident set size in kB (VmRSS), 0 when the process is gone or is a kernel thread. */
export function readRssKb(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** One variable of a process's initial environment, undefined when unreadable (another user's process). */
export function readEnvironVariable(pid: number, name: string): string | undefined {
  try {
    const prefix = `${name}=`;
    for (const pair of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      if (pair.startsWith(prefix)) return pair.slice(prefix.length);
    }
  } catch {
    // Gone, or not ours to read.
  }
  return undefined;
}

/** Seconds since boot, from /proc/uptime. */
export function readUptimeSeconds(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}
