import { describe, expect, it } from 'vitest';
import { runtimeStateFromInspect } from './runtime-state-from-inspect.js';

describe('runtimeStateFromInspect', () => {
  it('maps a running container with its health', () => {
    expect(runtimeStateFromInspect({ State: { Running: true, Health: { Status: 'starting' } } })).toEqual({ running: true, health: 'starting' });
    expect(runtimeStateFromInspect({ State: { Running: true } })).toEqual({ running: true, health: 'none' });
  });

  it('explains why a container is not running', () => {
    expect(runtimeStateFromInspect({ State: { Running: false, ExitCode: 137, OOMKilled: true, Health: { Status: 'unhealthy' } } })).toEqual({
      running: false,
      health: 'unhealthy',
      exitCode: 137,
      reason: 'OOM killed (memory limit reached)',
    });
    expect(runtimeStateFromInspect({ State: { Running: false, ExitCode: 137, OOMKilled: false } })).toMatchObject({ reason: 'exited with code 137 (killed by SIGKILL)' });
    expect(runtimeStateFromInspect({ State: { Running: true, Paused: true } })).toMatchObject({ running: false, reason: 'paused' });
  });

  it('does not trust an unreadable answer', () => {
    expect(runtimeStateFromInspect({})).toMatchObject({ running: false, health: 'none' });
  });
});
