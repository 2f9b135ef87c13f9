/**
 * A Playwright-worker stand-in run as its own process (node --import tsx): it takes a lease through the
 * coordinator with PoolClient, keeps it alive with the heartbeat like the fixture does, and reports on
 * stdout as JSON lines. The scenarios SIGKILL or SIGSTOP it while it holds the lease.
 *
 * argv: <testRunId> <priority>. stdin, one command a line:
 *   `mcp-open`   opens an MCP session on its container with its lease credential and calls one tool (the page
 *                evaluates 6 * 7): reports `mcp-opened` with the session id;
 *   `stale-mcp`  calls that tool again on the session it has, then tries a new session with the same
 *                credential: reports `mcp-stale` with what each answered (after a pause, the guard must refuse both);
 *   `stale-ops`  tries every lease operation with the token it was granted, reports what each answered, exits.
 */
import { createInterface } from 'node:readline';
import { isPoolError } from '../../../src/errors/pool-error.js';
import { openBrowser, type Browser } from './mcp-browser.js';
import { PoolClient } from '../../../src/protocol/pool-client.js';
import type { TestPriority } from '../../../src/domain/priority.js';

const [testRunId = 'holder', priority = 'normal'] = process.argv.slice(2);
const client = PoolClient.fromEnv();
const say = (message: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(message)}\n`);

const { allocation } = await client.allocate({ testRunId, priority: priority as TestPriority });
const lease = allocation.lease;
const ref = { leaseId: lease.leaseId, token: lease.token };
const heartbeat = client.startHeartbeat({ ...ref, ttlMs: lease.ttlMs }, { onLost: (e) => say({ type: 'lost', code: e.code }) });
say({ type: 'allocated', lease, containerId: allocation.container.id, port: allocation.container.port, credential: allocation.credential });
const EVALUATE = '() => 6 * 7';
let browser: Browser | undefined;

async function outcome(op: string, work: () => Promise<unknown>): Promise<{ op: string; code: string }> {
  try {
    await work();
    return { op, code: 'OK' };
  } catch (error) {
    return { op, code: isPoolError(error) ? error.code : `untyped: ${String(error)}` };
  }
}

/** What one MCP attempt answered: the tool's text, or the error the client threw. */
async function mcpOutcome(op: string, work: () => Promise<{ isError: boolean; text: string }>): Promise<{ op: string; ok: boolean; text: string }> {
  try {
    const result = await work();
    return { op, ok: !result.isError, text: result.text.slice(0, 400) };
  } catch (error) {
    return { op, ok: false, text: String(error).slice(0, 400) };
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = line.trim();
  if (command === 'mcp-open') {
    void (async () => {
      const opened = await mcpOutcome('open and call', async () => {
        browser = await openBrowser(allocation.container.url, allocation.credential, `paused-${testRunId}`);
        return browser.evaluate(EVALUATE);
      });
      say({ type: 'mcp-opened', ...opened, sessionId: browser?.sessionId ?? null });
    })();
    return;
  }
  if (command === 'stale-mcp') {
    void (async () => {
      const results = [
        await mcpOutcome('tool call on its open session', () => (browser ? browser.evaluate(EVALUATE) : Promise.reject(new Error('no session was opened')))),
        await mcpOutcome('new session and tool call', async () => {
          const again = await openBrowser(allocation.container.url, allocation.credential, `paused-again-${testRunId}`);
          try {
            return await again.evaluate(EVALUATE);
          } finally {
            await again.close();
          }
        }),
      ];
      say({ type: 'mcp-stale', results });
    })();
    return;
  }
  if (command !== 'stale-ops') return;
  void (async () => {
    const results = [
      await outcome('renew', () => client.renew(ref)),
      await outcome('release', () => client.release(ref)),
      await outcome('extension', () => client.requestExtension({ testRunId, justification: 'after a pause', requestedMs: 5_000, currentTimeoutMs: 10_000, lease: ref })),
      await outcome('reset', () => client.reset(ref, 'soft')),
    ];
    heartbeat.stop();
    say({ type: 'ops', results, heartbeatLost: heartbeat.lost?.code ?? null });
    client.close();
    process.exit(0);
  })();
});
