import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from './package-root.js';

describe('packageRoot', () => {
  const dir = mkdtempSync(join(tmpdir(), 'package-root-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds this package from source and from a build layout, skipping other package.json files', () => {
    expect(packageRoot()).toBe(join(import.meta.dirname, '..', '..'));

    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: '@cinnamon-qa/containers' }));
    mkdirSync(join(dir, 'dist', 'src', 'cli'), { recursive: true });
    writeFileSync(join(dir, 'dist', 'package.json'), JSON.stringify({ type: 'module' }));
    expect(packageRoot(pathToFileURL(join(dir, 'dist', 'src', 'cli', 'main.js')).href)).toBe(dir);
  });
});
