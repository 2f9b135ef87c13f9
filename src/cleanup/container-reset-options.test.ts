import { describe, expect, it } from 'vitest';
import { SystemClock } from '../clock/clock.js';
import { FakeHealthGate, FakeRuntime } from '../../test/support/fakes.js';
import { expectOneRefusal } from '../../test/support/options-refusal.js';
import { endMemberSessions } from '../runtime/member-reset.js';
import { ContainerResetManager } from './container-reset-manager.js';
import {
  DEFAULT_RESET_BUDGETS_MS,
  parseContainerResetOptions,
  type ContainerResetManagerOptions,
} from './container-reset-options.js';

const runtime = new FakeRuntime();
const health = new FakeHealthGate();
const portOf = () => 3001;
const credentialFor = () => 'pool-credential';


describe('ContainerResetManager options', () => {
  it('fill every default from its named constant and keep what is injected', () => {
    const config = parseContainerResetOptions({ runtime, health, portOf, credentialFor });
    expect(config).toEqual({ runtime, health, portOf, credentialFor, endSessions: endMemberSessions, clock: expect.any(SystemClock), budgetsMs: DEFAULT_RESET_BUDGETS_MS });
    expect(config.health).toBe(health);
  });

  it('a budget given for one strategy leaves the others at their defaults', () => {
    expect(parseContainerResetOptions({ runtime, health, portOf, credentialFor, budgetsMs: { hard: 2_000 } }).budgetsMs).toEqual({ ...DEFAULT_RESET_BUDGETS_MS, hard: 2_000 });
  });

  it('refuse each bad option with one INVALID_OPTIONS naming the field and the value', () => {
    const cases: Array<[Partial<ContainerResetManagerOptions>, RegExp]> = [
      [{ budgetsMs: { medium: 0 } }, /budgetsMs\.medium: must be more than 0 ms \(got 0\)/],
      [{ budgetsMs: { recovery: 1.5 } }, /budgetsMs\.recovery: must be a whole number of ms \(got 1\.5\)/],
      [{ budgetsMs: { gentle: 100 } } as never, /budgetsMs: unknown option 'gentle'/],
      [{ credentialFor: 'cq1.a.b' } as never, /credentialFor: must be a function/],
      [{ softGraceMs: 1_000 } as never, /unknown option 'softGraceMs'/],
      [{ portOf: 3001 } as never, /portOf: must be a function/],
      [{ grace: 1 } as never, /unknown option 'grace'/],
    ];
    for (const [extra, problem] of cases) {
      expectOneRefusal(() => new ContainerResetManager({ runtime, health, portOf, credentialFor, ...extra }), 'ContainerResetManager options', problem);
    }
  });
});
