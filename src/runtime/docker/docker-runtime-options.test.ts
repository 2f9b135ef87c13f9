import { describe, expect, it } from 'vitest';
import { expectOneRefusal, optionsRefusal } from '../../../test/support/options-refusal.js';
import { SystemClock } from '../../clock/clock.js';
import { DEFAULT_MCP_WEBMCP } from '../../config/schemas.js';
import { DEFAULT_EXEC_TIMEOUT_MS } from '../container-runtime.js';
import {
  DEFAULT_HOME_SIZE_MB,
  DEFAULT_PIDS_LIMIT,
  DEFAULT_SHM_SIZE_MB,
  DEFAULT_STOP_TIMEOUT_SECONDS,
  DEFAULT_TMP_SIZE_MB,
  DEFAULT_WORKDIR_SIZE_MB,
  parseDockerRuntimeOptions,
} from './docker-runtime-options.js';
import { DockerRuntime } from './docker-runtime.js';

const clock = new SystemClock();

describe('DockerRuntime options', () => {
  it('fill every default from its named constant; clock and client pass through', () => {
    const config = parseDockerRuntimeOptions({ image: 'cinnamon-qa/mcp:x', clock });
    expect(config).toEqual({
      image: 'cinnamon-qa/mcp:x',
      webmcp: DEFAULT_MCP_WEBMCP,
      shmSizeMB: DEFAULT_SHM_SIZE_MB,
      pidsLimit: DEFAULT_PIDS_LIMIT,
      tmpSizeMB: DEFAULT_TMP_SIZE_MB,
      homeSizeMB: DEFAULT_HOME_SIZE_MB,
      workdirSizeMB: DEFAULT_WORKDIR_SIZE_MB,
      stopTimeoutSeconds: DEFAULT_STOP_TIMEOUT_SECONDS,
      defaultExecTimeoutMs: DEFAULT_EXEC_TIMEOUT_MS,
      bindAddress: '127.0.0.1',
      clock,
      docker: undefined,
    });
    expect(parseDockerRuntimeOptions({ image: 'i', clock, bindAddress: '0.0.0.0', advertisedHost: '10.231.0.2' })).toMatchObject({ bindAddress: '0.0.0.0', advertisedHost: '10.231.0.2' });
  });

  it.each([
    ['image', { image: '' }],
    ['advertisedHost', { image: 'i', advertisedHost: '10.231.0.2:3001' }],
    ['image', { image: undefined as never }],
    ['shmSizeMB', { image: 'i', shmSizeMB: 64 }],
    ['stopTimeoutSeconds', { image: 'i', stopTimeoutSeconds: -1 }],
    ['defaultExecTimeoutMs', { image: 'i', defaultExecTimeoutMs: 0 }],
    ['webmcp', { image: 'i', webmcp: 1 as never }],
  ])('refuse a bad %s with one INVALID_OPTIONS naming it, before anything talks to Docker', (field, options) => {
    expectOneRefusal(() => new DockerRuntime({ ...options, clock }), 'DockerRuntime options', new RegExp(`^${field}: `));
  });

  it('a missing image says how to get one; an unknown option is refused by name', () => {
    expect(optionsRefusal(() => new DockerRuntime({ image: '', clock })).message).toContain('npx cinnamon-pool image build');
    expectOneRefusal(() => new DockerRuntime({ image: 'i', clock, shmSize: 512 } as never), 'DockerRuntime options', /unknown option 'shmSize'/);
  });
});
