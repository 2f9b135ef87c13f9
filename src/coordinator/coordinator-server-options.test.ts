import { describe, expect, it } from 'vitest';
import { SystemClock } from '../clock/clock.js';
import { SILENT_LOGGER } from '../pool/pool-events.js';
import { expectOneRefusal } from '../../test/support/options-refusal.js';
import { DEFAULT_COORDINATOR_HOST, DEFAULT_COORDINATOR_PORT, parseCoordinatorOptions, startCoordinator, type CoordinatorOptions } from './coordinator-server.js';

// Parsing never touches the manager: a stand-in object is enough to check the options.
const base = { manager: {} as CoordinatorOptions['manager'], runtime: 'process' } as const;

describe('coordinator options', () => {
  it('fill every default from its named constant', () => {
    const config = parseCoordinatorOptions(base);
    expect(config).toEqual({
      ...base,
      token: expect.any(String),
      host: DEFAULT_COORDINATOR_HOST,
      port: DEFAULT_COORDINATOR_PORT,
      clock: expect.any(SystemClock),
      logger: SILENT_LOGGER,
    });
    // A fresh token per coordinator: a token from one run does not open another.
    expect(config.token.length).toBeGreaterThan(0);
    expect(parseCoordinatorOptions(base).token).not.toBe(config.token);
    expect(parseCoordinatorOptions({ ...base, token: 'given', port: 65_535 })).toMatchObject({ token: 'given', port: 65_535 });
  });

  it('refuse each bad option with one INVALID_OPTIONS naming the field and the value', async () => {
    const cases: Array<[CoordinatorOptions, RegExp]> = [
      [{ ...base, port: 65_536 }, /port: .*\(got 65536\)/],
      [{ ...base, port: -1 }, /port: .*\(got -1\)/],
      [{ ...base, port: 80.5 }, /port: .*\(got 80\.5\)/],
      [{ ...base, host: '' }, /host: .*\(got ""\)/],
      [{ ...base, token: '' }, /token: .*\(got ""\)/],
      [{ ...base, runtime: 'podman' } as never, /runtime: must be one of "docker", "process", "fake" \(got "podman"\)/],
      [{ ...base, onExecutionRecorded: 1 } as never, /onExecutionRecorded: must be a function/],
      [{ ...base, hostname: 'x' } as never, /unknown option 'hostname'/],
    ];
    for (const [input, problem] of cases) expectOneRefusal(() => parseCoordinatorOptions(input), 'coordinator options', problem);
    // startCoordinator refuses before it listens.
    await expect(startCoordinator({ ...base, port: 70_000 })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });
});
