import { describe, expect, it } from 'vitest';
import { SystemClock } from '../clock/clock.js';
import { FakeClock } from '../clock/fake-clock.js';
import { DEFAULT_CLEANUP_STAGE_TIMEOUT_MS } from '../config/schemas.js';
import { FakeRuntime } from '../../test/support/fakes.js';
import { expectOneRefusal, optionsRefusal } from '../../test/support/options-refusal.js';
import {
  DEFAULT_KILL_GRACE_MS,
  DEFAULT_SESSION_DRAIN_MS,
  DEFAULT_WORKDIR_KEEP,
  parseCleanupServiceOptions,
  type CleanupServiceOptions,
} from './cleanup-service-options.js';


describe('CleanupService options', () => {
  const runtime = new FakeRuntime();

  it('fill every default from its named constant and keep what is injected', () => {
    const config = parseCleanupServiceOptions({ runtime });
    expect(config).toEqual({
      runtime,
      clock: expect.any(SystemClock),
      stageTimeoutMs: DEFAULT_CLEANUP_STAGE_TIMEOUT_MS,
      killGraceMs: DEFAULT_KILL_GRACE_MS,
      sessionDrainMs: DEFAULT_SESSION_DRAIN_MS,
      workdirKeep: DEFAULT_WORKDIR_KEEP,
    });
    expect(config.runtime).toBe(runtime);
    const clock = new FakeClock();
    const mcpSessions = async () => 0;
    const given = parseCleanupServiceOptions({ runtime, clock, mcpSessions, stageTimeoutMs: 0, killGraceMs: 0, sessionDrainMs: 0, workdirKeep: ['.keep', 'a b'] });
    expect(given).toMatchObject({ stageTimeoutMs: 0, killGraceMs: 0, sessionDrainMs: 0, workdirKeep: ['.keep', 'a b'] });
    expect(given.clock).toBe(clock);
    expect(given.mcpSessions).toBe(mcpSessions);
  });

  it('refuse each bad option with one INVALID_OPTIONS naming the field and the value', () => {
    const cases: Array<[CleanupServiceOptions, RegExp]> = [
      [{ runtime, stageTimeoutMs: -5 }, /stageTimeoutMs: must be 0 ms or more \(got -5\)/],
      [{ runtime, killGraceMs: 2.5 }, /killGraceMs: must be a whole number of ms \(got 2\.5\)/],
      [{ runtime, sessionDrainMs: Number.NaN }, /sessionDrainMs: .*\(got NaN\)/],
      [{ runtime, workdirKeep: ['ok', 'a/b'] }, /workdirKeep\.1: must be a plain file name .*\(got "a\/b"\)/],
      [{ runtime, workdirKeep: ['..'] }, /workdirKeep\.0: must be a plain file name/],
      [{ runtime, workdirKeep: ['line\nbreak'] }, /workdirKeep\.0: must be a plain file name/],
      [{ runtime, workdirKeep: [''] }, /workdirKeep\.0: must be a plain file name/],
      [{ runtime, mcpSessions: 3 } as never, /mcpSessions: must be a function/],
      [{ runtime: undefined } as never, /runtime: must be a ContainerRuntime/],
      [{ runtime, killGrace: 100 } as never, /unknown option 'killGrace'/],
    ];
    for (const [input, problem] of cases) expectOneRefusal(() => parseCleanupServiceOptions(input), 'CleanupService options', problem);
  });

  it('list every bad field in the one error', () => {
    const error = optionsRefusal(() => parseCleanupServiceOptions({ runtime, killGraceMs: -1, sessionDrainMs: -1 }));
    expect(error.data.problems).toEqual([expect.stringMatching(/^killGraceMs: /), expect.stringMatching(/^sessionDrainMs: /)]);
  });
});
