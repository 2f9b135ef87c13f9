import { describe, expect, it } from 'vitest';
import type { CleanupResult, CleanupStageResult } from '../cleanup/cleanup-types.js';
import { afterCleanup, MAX_RECOVERY_ATTEMPTS, recoveryStep } from './recycle-policy.js';

const stage = (s: Partial<CleanupStageResult> & Pick<CleanupStageResult, 'stage'>): CleanupStageResult => ({ success: true, durationMs: 1, ...s });
const cleanup = (stages: CleanupStageResult[]): CleanupResult => ({ containerId: 'container-1', success: stages.every((s) => s.success), durationMs: 5, stages });
const clean = cleanup([stage({ stage: 'terminateBrowserProcesses' }), stage({ stage: 'validateCleanup', openSessions: 0 })]);

describe('afterCleanup', () => {
  it('puts a clean container back when no reset is configured and memory is fine', () => {
    expect(afterCleanup({ cleanup: clean, resetOnRelease: 'none', overMemory: false })).toEqual({ next: 'available' });
  });

  it('applies the configured resetOnRelease after a clean cleanup, with no failure reason', () => {
    expect(afterCleanup({ cleanup: clean, resetOnRelease: 'soft', overMemory: false })).toEqual({ next: 'reset', strategy: 'soft', reason: undefined });
  });

  it('resets a failed cleanup with medium and names the failed stages', () => {
    const failed = cleanup([stage({ stage: 'clearCaches', success: false, error: 'denied' }), stage({ stage: 'clearLogs', success: false })]);
    expect(afterCleanup({ cleanup: failed, resetOnRelease: 'soft', overMemory: false })).toEqual({ next: 'reset', strategy: 'medium', reason: 'cleanup failed: clearCaches, clearLogs' });
  });

  it('restarts (hard) when sessions stay open, a stage was stuck, or memory is still over its threshold', () => {
    const sessions = cleanup([stage({ stage: 'validateCleanup', success: false, openSessions: 2 })]);
    expect(afterCleanup({ cleanup: sessions, resetOnRelease: 'none', overMemory: false })).toMatchObject({ next: 'reset', strategy: 'hard' });
    const stuck = cleanup([stage({ stage: 'terminateBrowserProcesses', success: false, stuck: true })]);
    expect(afterCleanup({ cleanup: stuck, resetOnRelease: 'soft', overMemory: false })).toMatchObject({ next: 'reset', strategy: 'hard' });
    expect(afterCleanup({ cleanup: clean, resetOnRelease: 'soft', overMemory: true })).toEqual({ next: 'reset', strategy: 'hard', reason: 'memory threshold exceeded: restart' });
  });

  it('restarts (hard) a member whose guard was not told the lease ended, even after a clean cleanup, naming the fence', () => {
    for (const resetOnRelease of ['none', 'soft', 'medium'] as const) {
      expect(afterCleanup({ cleanup: clean, resetOnRelease, overMemory: false, fenceError: 'ECONNREFUSED' })).toEqual({
        next: 'reset',
        strategy: 'hard',
        reason: 'fence failed: ECONNREFUSED',
      });
    }
  });
});

describe('recoveryStep', () => {
  it(`recovers ${MAX_RECOVERY_ATTEMPTS} times in a row, then quarantines`, () => {
    const steps = Array.from({ length: MAX_RECOVERY_ATTEMPTS + 2 }, (_, i) => recoveryStep(i + 1));
    expect(steps).toEqual([...Array<string>(MAX_RECOVERY_ATTEMPTS).fill('recover'), 'quarantine', 'quarantine']);
  });
});
