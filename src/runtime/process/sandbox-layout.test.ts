import { describe, expect, it } from 'vitest';
import { isPoolError } from '../../errors/pool-error.js';
import { MAX_TMPDIR_LENGTH, poolDir, runDir, sandboxPaths, safeSegment } from './sandbox-layout.js';

describe('sandbox layout', () => {
  it('uses the ids themselves when they fit', () => {
    const run = runDir('/tmp/cqa-pool', { poolId: 'cinnamon-qa', runId: 'r-20260101' });
    expect(run).toBe('/tmp/cqa-pool/cinnamon-qa/r-20260101');
    expect(sandboxPaths(run, 'container-1').tmpDir).toBe('/tmp/cqa-pool/cinnamon-qa/r-20260101/container-1/tmp');
  });

  it('keeps TMPDIR short enough for Chromium\'s singleton socket, whatever the ids', () => {
    const root = '/home/runner/work/_temp/cqa-pool';
    const ctx = { poolId: 'a-rather-long-pool-identifier-xyz', runId: '6f1c2a9e-8b7d-4c3e-9f21-0a1b2c3d4e5f' };
    const paths = sandboxPaths(runDir(root, ctx), 'container-with-a-long-name-12');
    expect(paths.tmpDir.length).toBeLessThanOrEqual(MAX_TMPDIR_LENGTH);
    expect(paths.tmpDir.startsWith(`${poolDir(root, ctx.poolId)}/`)).toBe(true);
    // Deterministic, and distinct per id.
    expect(sandboxPaths(runDir(root, ctx), 'container-with-a-long-name-12').dir).toBe(paths.dir);
    expect(sandboxPaths(runDir(root, ctx), 'container-with-a-long-name-13').dir).not.toBe(paths.dir);
    expect(runDir(root, { ...ctx, runId: `${ctx.runId}0` })).not.toBe(runDir(root, ctx));
  });

  it('gives the same pool folder to every run of a pool', () => {
    const a = runDir('/tmp/cqa-pool', { poolId: 'p', runId: 'short' });
    const b = runDir('/tmp/cqa-pool', { poolId: 'p', runId: 'x'.repeat(80) });
    expect(a.split('/').slice(0, 4)).toEqual(b.split('/').slice(0, 4));
  });

  it('refuses a root too long to leave room, saying what to do', () => {
    let error: unknown;
    try {
      runDir(`/${'d'.repeat(60)}`, { poolId: 'cinnamon-qa', runId: 'r1' });
    } catch (e) {
      error = e;
    }
    expect(isPoolError(error, 'RUNTIME_ERROR')).toBe(true);
    expect((error as Error).message).toMatch(/shorter rootDir/);
  });

  it('makes ids safe path segments', () => {
    expect(safeSegment('../etc')).toBe('.._etc');
    expect(safeSegment('..')).toBe('_..');
    expect(safeSegment('a b/c')).toBe('a_b_c');
  });
});
