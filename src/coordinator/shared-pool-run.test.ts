import { describe, expect, it } from 'vitest';
import { describeHosts } from './shared-pool-run.js';

describe('describeHosts (the shared run\'s first log line)', () => {
  it('names each host, its member count and address; the unit once', () => {
    expect(
      describeHosts([
        { hostId: 'h1', members: ['h1-1', 'h1-2'], address: '10.231.0.2' },
        { hostId: 'h2', members: ['h2-1', 'h2-2'], address: '10.231.0.3' },
      ]),
    ).toBe('h1: 2 members at 10.231.0.2, h2: 2 at 10.231.0.3');
    expect(describeHosts([{ hostId: 'solo', members: ['solo-1'], address: 'build-7.ci' }])).toBe('solo: 1 member at build-7.ci');
  });
});
