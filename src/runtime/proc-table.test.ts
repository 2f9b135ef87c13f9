import { describe, expect, it } from 'vitest';
import { parseProcStat, processTree, readMemoryKb, readProcEntry, readRssKb, type ProcEntry } from './proc-table.js';

describe('parseProcStat', () => {
  it('reads the fields after a command name holding spaces and parentheses', () => {
    const line = '4242 (we(ird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 1 0 98765 1000 200 18446744073709551615';
    expect(parseProcStat(line)).toEqual({ pid: 4242, state: 'S', ppid: 1, pgid: 4242, cpuTicks: 200, startTime: 98765 });
  });

  it('returns undefined for garbage', () => {
    expect(parseProcStat('nonsense')).toBeUndefined();
  });

  it('reads this very process', () => {
    const self = readProcEntry(process.pid);
    expect(self?.pid).toBe(process.pid);
    expect(self?.ppid).toBe(process.ppid);
    expect(readRssKb(process.pid)).toBeGreaterThan(1000);
    expect(readMemoryKb(process.pid)).toBeGreaterThan(1000);
    expect(readMemoryKb(process.pid)).toBeLessThanOrEqual(readRssKb(process.pid) * 1.1);
  });
});

describe('processTree', () => {
  const entry = (pid: number, ppid: number, pgid: number, state = 'S'): ProcEntry => ({ pid, ppid, pgid, state, cpuTicks: 0, startTime: 0 });

  it('collects descendants plus re-parented members of the group, without zombies', () => {
    const table = [
      entry(1, 0, 1),
      entry(100, 1, 100), // the server
      entry(101, 100, 100), // chromium
      entry(102, 101, 100), // zygote
      entry(103, 102, 100, 'Z'), // zombie renderer
      entry(104, 1, 100), // orphaned helper, re-parented to init, still in the group
      entry(200, 1, 200), // unrelated
      entry(201, 101, 201), // child that made its own group
    ];
    expect(processTree(100, table).map((e) => e.pid).sort()).toEqual([100, 101, 102, 104, 201]);
  });
});
