import { describe, expect, it } from 'vitest';
import { isPoolError } from '../errors/pool-error.js';
import { BoundedOutput } from './bounded-output.js';
import type { RuntimeEvent } from './container-runtime.js';
import { describeExit } from './exit-description.js';
import { runtimeError } from './runtime-error.js';
import { RuntimeEventHub } from './runtime-event-hub.js';

describe('runtimeError (both runtimes)', () => {
  it('names runtime, container, stage, problem and fix, in that order, one sentence each', () => {
    const error = runtimeError('process', { containerId: 'container-2', stage: 'start', problem: 'port 3002 is taken', fix: 'free the port' });
    expect(isPoolError(error, 'RUNTIME_ERROR')).toBe(true);
    expect(error.message).toBe('Process runtime: start of container container-2 failed: port 3002 is taken. Fix: free the port.');
    expect(error.data).toMatchObject({ containerId: 'container-2', operation: 'start', runtime: 'process' });
    expect(runtimeError('docker', { stage: 'close', problem: 'a network is still in use', fix: 'docker network ls' }).message).toBe(
      'Docker runtime: close failed: a network is still in use. Fix: docker network ls.',
    );
  });

  it('takes the problem from the cause (a daemon\'s own words first) and keeps the cause', () => {
    const cause = Object.assign(new Error('HTTP 404'), { json: { message: 'No such container: abc' } });
    const error = runtimeError('docker', { containerId: 'container-1', stage: 'inspect', cause, fix: 'Is it running?', data: { timedOut: true } });
    expect(error.message).toBe('Docker runtime: inspect of container container-1 failed: No such container: abc. Fix: Is it running?');
    expect(error.cause).toBe(cause);
    expect(error.data).toMatchObject({ timedOut: true });
  });
});

describe('describeExit', () => {
  it('says the same for a Docker exit code and a child killed by the signal', () => {
    expect(describeExit(137)).toEqual({ exitCode: 137, reason: 'exited with code 137 (killed by SIGKILL)' });
    expect(describeExit(null, 'SIGKILL')).toEqual(describeExit(137));
    expect(describeExit(143).reason).toBe('exited with code 143 (killed by SIGTERM)');
    expect(describeExit(3)).toEqual({ exitCode: 3, reason: 'exited with code 3' });
    expect(describeExit(undefined)).toEqual({ reason: 'exited' });
  });
});

describe('RuntimeEventHub', () => {
  it('delivers to every listener although one throws, and stops after unsubscribe', () => {
    const hub = new RuntimeEventHub();
    const heard: string[] = [];
    hub.add(() => {
      throw new Error('listener bug');
    });
    const off = hub.add((e) => heard.push(e.type));
    const event: RuntimeEvent = { type: 'started', containerId: 'c1', at: 1 };
    hub.emit(event);
    off();
    off();
    hub.emit(event);
    expect(heard).toEqual(['started']);
    expect(hub.size).toBe(1);
  });
});

describe('BoundedOutput', () => {
  it('keeps up to the limit and says it cut the rest', () => {
    const output = new BoundedOutput(5);
    output.push(Buffer.from('abc'));
    output.push(Buffer.from('defg'));
    output.push(Buffer.from('h'));
    expect(output.text).toBe('abcde\n[output cut at 5 bytes]');
    const small = new BoundedOutput(5);
    small.push(Buffer.from('abcde'));
    expect(small.text).toBe('abcde');
  });
});
