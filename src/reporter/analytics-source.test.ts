import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fixtureAnalytics, fixtureAudit } from '../../test/reporter/analytics-fixture.js';
import { writeAnalyticsSnapshot } from './analytics-snapshot.js';
import { expectOneRefusal } from '../../test/support/options-refusal.js';
import {
  type AnalyticsSource,
  CapturedSource,
  coordinatorSource,
  coordinatorSourceFromEnv,
  type CoordinatorSourceOptions,
  DEFAULT_COORDINATOR_TIMEOUT_MS,
  loadFirstAvailable,
  NO_COORDINATOR_TOKEN,
  parseCoordinatorSourceOptions,
  snapshotFileSource,
} from './analytics-source.js';

/** A stand-in coordinator: the real routes and bearer check, canned bodies. */
async function stubCoordinator(bodies: Record<string, unknown>, token = 'tok'): Promise<{ url: string; server: Server; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
    if (req.headers.authorization !== `Bearer ${token}`) return void res.writeHead(401, 'Unauthorized').end();
    const body = bodies[req.url ?? ''];
    if (body === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, seen };
}

describe('coordinatorSource', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('fetches analytics and audit with the bearer token', async () => {
    const stub = await stubCoordinator({ '/v1/analytics': fixtureAnalytics(), '/v1/audit': fixtureAudit() });
    servers.push(stub.server);
    const data = await coordinatorSourceFromEnv({ CINNAMON_POOL_URL: stub.url, CINNAMON_POOL_TOKEN: 'tok' }).load();
    expect(data?.analytics).toEqual(fixtureAnalytics());
    expect(data?.audit).toEqual(fixtureAudit());
    expect(data?.origin).toBe(`coordinator ${stub.url}`);
    expect(stub.seen).toEqual(expect.arrayContaining([`GET /v1/analytics Bearer tok`, `GET /v1/audit Bearer tok`]));
  });

  it('accepts an audit body wrapped as { events }', async () => {
    const stub = await stubCoordinator({ '/v1/analytics': fixtureAnalytics(), '/v1/audit': { events: fixtureAudit() } });
    servers.push(stub.server);
    expect((await coordinatorSource({ url: stub.url, token: 'tok' }).load())?.audit).toHaveLength(fixtureAudit().length);
  });

  it('does not apply without a URL', async () => {
    expect(await coordinatorSourceFromEnv({}).load()).toBeUndefined();
  });

  it('fails with the status on a wrong token, and names the field of a wrong body', async () => {
    const stub = await stubCoordinator({ '/v1/analytics': { ...fixtureAnalytics(), poolMetrics: { totalContainers: 'two' } }, '/v1/audit': [] });
    servers.push(stub.server);
    await expect(coordinatorSource({ url: stub.url, token: 'wrong' }).load()).rejects.toThrow(/coordinator http:\/\/127.0.0.1:\d+ answered 401/);
    await expect(coordinatorSource({ url: stub.url, token: 'tok' }).load()).rejects.toThrow(/did not return pool analytics: poolMetrics.totalContainers/);
  });

  it('says why a stopped coordinator cannot be reached', async () => {
    const stub = await stubCoordinator({});
    await new Promise((resolve) => stub.server.close(resolve));
    const { data, attempts } = await loadFirstAvailable([coordinatorSource({ url: stub.url, token: 'tok' })]);
    expect(data).toBeUndefined();
    expect(attempts[0]).toMatchObject({ source: 'coordinator', outcome: 'failed' });
    expect(attempts[0]?.error).toMatch(/ECONNREFUSED/);
  });
});

describe('snapshotFileSource', () => {
  it('reads this run’s snapshot and refuses an earlier run’s', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pool-source-'));
    const file = join(dir, 'snap.json');
    expect(await snapshotFileSource(() => file).load()).toBeUndefined();
    expect(await snapshotFileSource(() => undefined).load()).toBeUndefined();
    await writeAnalyticsSnapshot(file, { analytics: fixtureAnalytics(), audit: fixtureAudit() }, 1_000);
    expect((await snapshotFileSource(() => file, { notBefore: 1_000 }).load())?.origin).toBe(`snapshot ${file}`);
    await expect(snapshotFileSource(() => file, { notBefore: 2_000 }).load()).rejects.toThrow(/earlier run/);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('loadFirstAvailable', () => {
  it('takes the first source with data and records what happened before it', async () => {
    const broken: AnalyticsSource = { name: 'broken', load: () => Promise.reject(new Error('boom')) };
    const empty: AnalyticsSource = { name: 'empty', load: async () => undefined };
    const captured = new CapturedSource();
    captured.capture({ analytics: fixtureAnalytics(), audit: [], origin: 'memory' });
    const { data, attempts } = await loadFirstAvailable([broken, empty, captured]);
    expect(data?.origin).toBe('memory');
    expect(attempts).toEqual([
      { source: 'broken', outcome: 'failed', error: 'boom' },
      { source: 'empty', outcome: 'not available' },
    ]);
  });
});

describe('coordinatorSource options', () => {
  it('fill every default from its named constant', () => {
    expect(parseCoordinatorSourceOptions({ url: undefined })).toEqual({ url: undefined, token: NO_COORDINATOR_TOKEN, timeoutMs: DEFAULT_COORDINATOR_TIMEOUT_MS });
    expect(parseCoordinatorSourceOptions({ url: 'http://127.0.0.1:1', token: 't', timeoutMs: 900 })).toEqual({ url: 'http://127.0.0.1:1', token: 't', timeoutMs: 900 });
  });

  it('refuse each bad option with one INVALID_OPTIONS naming the field and the value', () => {
    const cases: Array<[CoordinatorSourceOptions, RegExp]> = [
      [{ url: 'http://127.0.0.1:1', timeoutMs: 0 }, /timeoutMs: .*\(got 0\)/],
      [{ url: 'http://127.0.0.1:1', timeoutMs: 2.5 }, /timeoutMs: .*\(got 2\.5\)/],
      [{ url: 'http://127.0.0.1:1', token: 5 } as never, /token: .*\(got 5\)/],
      [{ url: 'http://127.0.0.1:1', budgetMs: 5 } as never, /unknown option 'budgetMs'/],
    ];
    for (const [input, problem] of cases) expectOneRefusal(() => coordinatorSource(input), 'coordinator source options', problem);
  });

  it('a URL from the environment that is not one fails the load, not the reporter building the source', async () => {
    const source = coordinatorSourceFromEnv({ CINNAMON_POOL_URL: 'not a url', CINNAMON_POOL_TOKEN: 'tok' });
    await expect(source.load()).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });
});
