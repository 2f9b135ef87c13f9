import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findCoordinator } from './coordinator-file.js';

describe('findCoordinator', () => {
  const root = mkdtempSync(join(tmpdir(), 'coordinator-file-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const alive = () => true;

  it('prefers flags or environment', () => {
    expect(findCoordinator({ url: 'http://127.0.0.1:1', token: 't' }, root, alive)).toEqual({ url: 'http://127.0.0.1:1', token: 't', source: 'flags / environment' });
    expect(() => findCoordinator({ url: 'http://127.0.0.1:1' }, root, alive)).toThrow(/a URL but no token/);
  });

  it('finds the file a run wrote next to its config, from a subfolder', () => {
    const project = join(root, 'project');
    mkdirSync(join(project, '.cinnamon-pool'), { recursive: true });
    mkdirSync(join(project, 'e2e', 'tests'), { recursive: true });
    writeFileSync(join(project, '.cinnamon-pool', 'coordinator.json'), JSON.stringify({ url: 'http://127.0.0.1:40123', token: 'secret', pid: 4242, runId: 'r1' }));

    expect(findCoordinator({}, join(project, 'e2e', 'tests'), alive)).toEqual({
      url: 'http://127.0.0.1:40123',
      token: 'secret',
      source: join(project, '.cinnamon-pool', 'coordinator.json'),
    });
    expect(() => findCoordinator({}, project, () => false)).toThrow(/process 4242 is gone/);
  });

  it('says how to point at a pool when there is none, and refuses a broken file', () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    expect(() => findCoordinator({}, empty, alive)).toThrow(/no running pool found/);

    writeFileSync(join(empty, 'bad.json'), '{"url": 42}');
    expect(() => findCoordinator({ file: 'bad.json' }, empty, alive)).toThrow(/is not a coordinator file/);
  });
});
