import { describe, expect, it } from 'vitest';
import { idOfName, networkNames } from './support/netns-names.js';

/** The crash sweep finds leftovers by name: it must find every name a network builds and nothing else. */
describe('netns names', () => {
  it('maps every name a network builds back to its id', () => {
    const names = networkNames('cq', 'k3x9');
    for (const name of [names.bridge, names.vethRoot(0), names.vethPeer(12), names.namespace('h1'), names.namespace('s2'), names.ruleComment]) {
      expect(idOfName('cq', name), name).toBe('k3x9');
    }
    for (const name of [names.bridge, names.vethRoot(199), names.vethPeer(199)]) expect(name.length).toBeLessThanOrEqual(15);
  });

  it('claims no name it did not build (files of others in /tmp, other interfaces, other prefixes)', () => {
    for (const name of ['cq-mh-all.log', 'cq-chromium-a1b2c3', 'cqshards-a1b2', 'cq-k3x9-h1.log', 'cq-k3x9-', 'cqb-k3x9x', 'docker0', 'eth0', 'xyb-k3x9', 'cqv-k3x9-a']) {
      expect(idOfName('cq', name), name).toBeUndefined();
    }
  });

  it('refuses names longer than an interface name may be', () => {
    expect(() => networkNames('cqxx', 'k3x9')).toThrow(/1-3 lower-case letters/);
    expect(() => networkNames('cq', 'k3x9z')).toThrow(/4 lower-case letters or digits/);
  });
});
