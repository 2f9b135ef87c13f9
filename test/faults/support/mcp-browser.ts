import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { openMcpSession, type McpSession } from '../../../fixtures/mcp-session.js';

export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((c) => c.text ?? '').join('\n');
}

/** The browser tools a scenario drives, with argument names read from the server's own inputSchemas. */
export interface Browser {
  readonly client: Client;
  readonly session: McpSession;
  readonly toolNames: readonly string[];
  /** The MCP session id the server gave this client (mcp-session-id). */
  readonly sessionId: string | undefined;
  /** browser_navigate; resolves to the tool's result (isError included), never throws on a tool error. */
  navigate(url: string, timeoutMs?: number): Promise<{ isError: boolean; text: string }>;
  /** browser_evaluate of a function source in the page. */
  evaluate(fn: string, timeoutMs?: number): Promise<{ isError: boolean; text: string }>;
  /** Any tool by name, arguments as given. */
  call(name: string, args: Record<string, unknown>, timeoutMs?: number): Promise<{ isError: boolean; text: string }>;
  close(): Promise<void>;
}

/**
 * An MCP session to a pool member as a test's own client would open it, every request carrying `credential`
 * (Allocation.credential: the member's guard admits nothing else).
 */
export async function openBrowser(url: string, credential: string, clientName: string): Promise<Browser> {
  const session = await openMcpSession(url, credential, () => undefined, clientName);
  const client = session.client;
  try {
    const { tools } = await client.listTools();
    const argOf = (tool: string, pattern: RegExp) => {
      const t = tools.find((x) => x.name === tool);
      if (!t) throw new Error(`the server lists no ${tool}: ${tools.map((x) => x.name).join(', ')}`);
      const key = Object.keys(t.inputSchema.properties ?? {}).find((k) => pattern.test(k));
      if (!key) throw new Error(`${tool} has no argument matching ${pattern}: ${JSON.stringify(t.inputSchema.properties)}`);
      return key;
    };
    const urlArg = argOf('browser_navigate', /url/i);
    const fnArg = argOf('browser_evaluate', /function|expression|script/i);
    const call = async (name: string, args: Record<string, unknown>, timeoutMs = 30_000) => {
      const result = await client.callTool({ name, arguments: args }, undefined, { timeout: timeoutMs });
      return { isError: result.isError === true, text: textOf(result) };
    };
    return {
      client,
      session,
      toolNames: tools.map((t) => t.name),
      get sessionId() {
        return (client.transport as { sessionId?: string } | undefined)?.sessionId;
      },
      navigate: (u, t) => call('browser_navigate', { [urlArg]: u }, t),
      evaluate: (fn, t) => call('browser_evaluate', { [fnArg]: fn }, t),
      call,
      close: () => session.close(),
    };
  } catch (error) {
    await session.close();
    throw error;
  }
}
