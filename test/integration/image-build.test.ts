/**
 * The image build's base choice on a real daemon. These machines reach no registry, so the official Playwright
 * image cannot be pulled; to show the fallback without sending anything off the machine, the official image's
 * repository is pointed at a closed port on 127.0.0.1 (Docker tries loopback registries over plain HTTP and is
 * refused at once).
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPoolImage, poolImageTag } from '../../src/runtime/docker/pool-image.js';
import { dockerUnavailableReason } from '../support/docker.js';
import { freePorts } from '../support/ports.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const IMAGE_REPO = 'cinnamon-qa-fallback/mcp';
const unavailable = await dockerUnavailableReason();
const canDebootstrap = process.getuid?.() === 0 && commandExists('debootstrap');

function commandExists(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function removeImages(): void {
  // By tag, never by id: an identical build shares its id with the repository's own image, and removing the
  // id would take that tag away too.
  for (const tag of execFileSync('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}', IMAGE_REPO], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
    execFileSync('docker', ['rmi', tag], { stdio: 'ignore' });
  }
}

/** Collects what the build prints as progress. */
function sink(): Writable & { text: string } {
  const out = new Writable({
    write(chunk, _encoding, done) {
      out.text += String(chunk);
      done();
    },
  }) as Writable & { text: string };
  out.text = '';
  return out;
}

describe.skipIf(unavailable !== undefined || !canDebootstrap)('docker/build-image.sh base choice (real daemon)', () => {
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const [closed] = await freePorts(1);
    env = { ...process.env, BASE_IMAGE: 'auto', PLAYWRIGHT_IMAGE_REPO: `127.0.0.1:${closed}/playwright`, MCP_IMAGE_REPO: IMAGE_REPO };
    removeImages();
  });
  afterAll(() => removeImages());

  it("auto: an official image that cannot be pulled falls back to the offline base, says why, and is found by its tag afterwards", async () => {
    const before = await poolImageTag(repoRoot, env);
    expect(before).toMatch(new RegExp(`^${IMAGE_REPO}:0\\.0\\.\\d+-[0-9a-f]{10}$`));

    const progress = sink();
    const built = await buildPoolImage(repoRoot, { env, progress });
    expect(progress.text).toMatch(/1\/3 base image 127\.0\.0\.1:\d+\/playwright:v\d+\.\d+\.\d+-noble \(the official Playwright image/);
    expect(progress.text).toContain('building the offline base instead');
    expect(progress.text).toMatch(/built cinnamon-qa-fallback\/mcp:\S+ in \d+ s/);
    // The official-based tag was never built; the one built is the offline-based one, and --print-tag now
    // names it, so the next run does not try to pull again.
    expect(built.tag).not.toBe(before);
    expect(await poolImageTag(repoRoot, env)).toBe(built.tag);
    expect(execFileSync('docker', ['image', 'inspect', '--format', '{{index .Config.Labels "cinnamon-qa.base"}}', built.tag], { encoding: 'utf8' }).trim())
      .toMatch(/^cinnamon-qa\/mcp-base:bookworm-/);

    const again = sink();
    expect((await buildPoolImage(repoRoot, { env, progress: again })).tag).toBe(built.tag);
    expect(again.text).toContain(`image ${built.tag} exists; skipping`);
  });

  it('playwright: no fallback, and the error says what to do', async () => {
    await expect(buildPoolImage(repoRoot, { env: { ...env, BASE_IMAGE: 'playwright' }, progress: sink() })).rejects.toThrow(
      /cannot pull 127\.0\.0\.1:\d+\/playwright:v[\d.]+-noble: check the registry \(docker login\?\), or use BASE_IMAGE=offline/,
    );
  });
});
