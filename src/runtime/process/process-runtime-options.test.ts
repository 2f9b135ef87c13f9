import { describe, expect, it } from 'vitest';
import { expectOneRefusal } from '../../../test/support/options-refusal.js';
import { SystemClock } from '../../clock/clock.js';
import { DEFAULT_MCP_WEBMCP } from '../../config/schemas.js';
import { DEFAULT_EXEC_TIMEOUT_MS } from '../container-runtime.js';
import { DEFAULT_CHROMIUM_SANDBOX } from '../mcp-server-command.js';
import { DEFAULT_KILL_GRACE_MS } from './process-group.js';
import { DEFAULT_BIND_ADDRESS, parseProcessRuntimeOptions } from './process-runtime-options.js';
import { ProcessRuntime } from './process-runtime.js';
import { DEFAULT_SANDBOX_ROOT } from './sandbox-layout.js';

describe('ProcessRuntime options', () => {
  it('fill every default from its named constant; what is handed in passes through', () => {
    const config = parseProcessRuntimeOptions({});
    expect(config).toMatchObject({
      rootDir: DEFAULT_SANDBOX_ROOT,
      killGraceMs: DEFAULT_KILL_GRACE_MS,
      execTimeoutMs: DEFAULT_EXEC_TIMEOUT_MS,
      chromiumSandbox: DEFAULT_CHROMIUM_SANDBOX,
      webmcp: DEFAULT_MCP_WEBMCP,
      bindAddress: DEFAULT_BIND_ADDRESS,
      env: process.env,
    });
    expect(DEFAULT_BIND_ADDRESS).toBe('127.0.0.1');
    expect(config.advertisedHost).toBeUndefined();
    // A host agent of a shared pool (issue 11): guards on every interface, admitting the advertised host.
    expect(parseProcessRuntimeOptions({ bindAddress: '0.0.0.0', advertisedHost: '10.231.0.2' })).toMatchObject({ bindAddress: '0.0.0.0', advertisedHost: '10.231.0.2' });
    expect(config.clock).toBeInstanceOf(SystemClock);
    const clock = new SystemClock();
    const env = { PATH: '/usr/bin' };
    const locator = { isExecutable: () => true };
    const given = parseProcessRuntimeOptions({ rootDir: '/tmp/x', killGraceMs: 0, serverArgs: ['--a', ''], clock, env, chromiumLocator: locator });
    expect(given).toMatchObject({ rootDir: '/tmp/x', killGraceMs: 0, serverArgs: ['--a', ''] });
    expect(given.clock).toBe(clock);
    expect(given.env).toBe(env);
    expect(given.chromiumLocator).toBe(locator);
  });

  it.each([
    ['killGraceMs', { killGraceMs: -1 }],
    ['killGraceMs', { killGraceMs: 1.5 }],
    ['execTimeoutMs', { execTimeoutMs: 0 }],
    ['rootDir', { rootDir: '' }],
    ['chromiumSandbox', { chromiumSandbox: 'yes' as never }],
    ['serverArgs', { serverArgs: '--headed' as never }],
    ['bindAddress', { bindAddress: '' }],
    ['advertisedHost', { advertisedHost: '10.231.0.2:3001' }],
    ['advertisedHost', { advertisedHost: '*' }],
  ])('refuse a bad %s with one INVALID_OPTIONS naming it, before anything starts', (field, options) => {
    expectOneRefusal(() => new ProcessRuntime(options), 'ProcessRuntime options', new RegExp(`^${field}: `));
  });

  it('refuse an unknown option by name', () => {
    expectOneRefusal(() => new ProcessRuntime({ killGrace: 100 } as never), 'ProcessRuntime options', /unknown option 'killGrace'/);
  });
});
