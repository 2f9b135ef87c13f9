import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../clock/fake-clock.js';
import { DockerEventStream, type ContainerEventMessage } from './docker-event-stream.js';

/** Stands in for dockerode's getEvents: each call opens a stream the test writes to, or fails on demand. */
class FakeEventsDocker {
  readonly calls: Docker.GetEventsOptions[] = [];
  readonly streams: PassThrough[] = [];
  failures = 0;

  async getEvents(options: Docker.GetEventsOptions): Promise<PassThrough> {
    this.calls.push(options);
    if (this.failures > 0) {
      this.failures--;
      throw Object.assign(new Error('connect ECONNREFUSED /var/run/docker.sock'), { code: 'ECONNREFUSED' });
    }
    const stream = new PassThrough();
    this.streams.push(stream);
    return stream;
  }
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function eventLine(action: string, id: string, time: number, attributes: Record<string, string> = {}): string {
  return `${JSON.stringify({ Type: 'container', Action: action, id, Actor: { ID: id, Attributes: attributes }, time, timeNano: time * 1e9 })}\n`;
}

function setup() {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
  const docker = new FakeEventsDocker();
  const received: ContainerEventMessage[] = [];
  let reconnects = 0;
  const stream = new DockerEventStream({
    docker: docker as unknown as Docker,
    clock,
    labels: ['cinnamon-qa.pool=p1'],
    onEvent: (event) => received.push(event),
    onReconnected: () => reconnects++,
  });
  return { clock, docker, received, stream, reconnects: () => reconnects };
}

describe('DockerEventStream', () => {
  it('subscribes with the label filter and parses events split across chunks', async () => {
    const { docker, received, stream } = setup();
    await stream.ready();
    expect(docker.calls[0]?.filters).toEqual({ type: ['container'], event: ['start', 'die', 'oom'], label: ['cinnamon-qa.pool=p1'] });
    const line = eventLine('die', 'abc', 1_767_268_800, { exitCode: '137', 'cinnamon-qa.container': 'container-1' });
    docker.streams[0]!.write(line.slice(0, 20));
    docker.streams[0]!.write(line.slice(20) + eventLine('exec_start: sh', 'abc', 1_767_268_801));
    await flush();
    expect(received).toEqual([{ action: 'die', dockerId: 'abc', exitCode: 137, attributes: { exitCode: '137', 'cinnamon-qa.container': 'container-1' } }]);
    stream.close();
  });

  it('reconnects after the stream ends, replays from the last event and drops duplicates', async () => {
    const { clock, docker, received, stream, reconnects } = setup();
    await stream.ready();
    docker.streams[0]!.write(eventLine('start', 'abc', 1_767_268_900));
    await flush();
    docker.streams[0]!.end();
    await flush();
    expect(docker.calls).toHaveLength(1);

    await clock.advance(250);
    await flush();
    expect(docker.calls).toHaveLength(2);
    expect(docker.calls[1]?.since).toBe(1_767_268_900);
    expect(reconnects()).toBe(1);
    // The replay repeats the start; only the new die is delivered.
    docker.streams[1]!.write(eventLine('start', 'abc', 1_767_268_900) + eventLine('die', 'abc', 1_767_268_901, { exitCode: '1' }));
    await flush();
    expect(received.map((e) => e.action)).toEqual(['start', 'die']);
    stream.close();
  });

  it('backs off while the daemon is unreachable and stops retrying once closed', async () => {
    const { clock, docker, stream } = setup();
    await stream.ready();
    docker.failures = 3;
    docker.streams[0]!.destroy(new Error('daemon went away'));
    await flush();
    await clock.advance(250); // attempt 2 fails
    await flush();
    await clock.advance(500); // attempt 3 fails
    await flush();
    expect(docker.calls).toHaveLength(3);
    await clock.advance(999); // the next wait is 1000 ms
    await flush();
    expect(docker.calls).toHaveLength(3);
    stream.close();
    await clock.advance(10_000);
    await flush();
    expect(docker.calls).toHaveLength(3);
    expect(clock.pendingTimers()).toBe(0);
  });
});
