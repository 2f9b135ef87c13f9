import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from '../../../../fixtures/index.js';

const dir = process.env.HOST_LOSS_DIR!;
/** One tool call's bound: a hang fails the attempt with the SDK's timeout instead of the test's. */
const CALL_TIMEOUT_MS = 30_000;

/**
 * Holds its member with real tool calls until the fault test writes `stop` (after it killed this member's
 * host), having first written which member serves this attempt. The first attempt's member dies under it; the
 * retry finds `stop` already there, makes its calls on its new member and passes.
 */
test('holds its member until told to stop', async ({ mcpContainer }, testInfo) => {
  writeFileSync(join(dir, `attempt-${testInfo.retry}.json`), JSON.stringify({ retry: testInfo.retry, containerId: mcpContainer.id, name: mcpContainer.name }));
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const result = await mcpContainer.client.callTool({ name, arguments: args }, undefined, { timeout: CALL_TIMEOUT_MS });
    if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  };
  await call('browser_navigate', { url: 'about:blank' });
  do {
    await call('browser_snapshot');
    await new Promise((resolve) => setTimeout(resolve, 100));
  } while (!existsSync(join(dir, 'stop')));
});
