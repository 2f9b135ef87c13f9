import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { AriaSnapshot } from './aria-snapshot.js';
import { ToolArguments } from './tool-arguments.js';

/** Where the example shop runs as seen from this machine; `appUrl()` turns it into what a container sees. */
export const SHOP_URL = process.env.SHOP_URL ?? `http://localhost:${process.env.SHOP_PORT ?? 4173}`;

/** The part of the `mcpContainer` fixture these helpers use. */
export interface McpContainerLike {
  client: Pick<Client, 'callTool' | 'listTools'>;
  appUrl(url: string): string;
}

export type FieldType = 'textbox' | 'checkbox' | 'radio' | 'combobox' | 'slider';

/**
 * A thin, readable layer over the MCP tools: every method is one or two `callTool`s, named after what a
 * user does. Elements are picked by role and accessible name from a fresh snapshot, the way a person (or an
 * agent) reading the page would; the specs never see a ref.
 */
export class McpBrowser {
  private constructor(
    private readonly container: McpContainerLike,
    private readonly args: ToolArguments,
  ) {}

  static async of(container: McpContainerLike): Promise<McpBrowser> {
    return new McpBrowser(container, await ToolArguments.read(container.client));
  }

  /** Opens a path of the shop ('/cart') and returns the page's snapshot. */
  async open(path: string): Promise<AriaSnapshot> {
    await this.call('browser_navigate', { url: this.container.appUrl(new URL(path, SHOP_URL).href) });
    return this.snapshot();
  }

  async snapshot(): Promise<AriaSnapshot> {
    const text = await this.call('browser_snapshot', {});
    const yaml = /```yaml\n([\s\S]*?)```/.exec(text)?.[1];
    if (yaml === undefined) throw new Error(`browser_snapshot returned no YAML snapshot:\n${text}`);
    return new AriaSnapshot(yaml);
  }

  /** Clicks the element with this role and name; returns the page after the click. */
  async click(role: string, name: string | RegExp): Promise<AriaSnapshot> {
    const node = (await this.snapshot()).find(role, name);
    await this.call('browser_click', { [this.args.elementArgument('browser_click')]: node.ref, element: `${role} "${node.name}"` });
    return this.snapshot();
  }

  /** Types into a field; `submit` presses Enter afterwards. */
  async type(role: string, name: string | RegExp, text: string, options: { submit?: boolean } = {}): Promise<AriaSnapshot> {
    const node = (await this.snapshot()).find(role, name);
    await this.call('browser_type', {
      [this.args.elementArgument('browser_type')]: node.ref,
      element: `${role} "${node.name}"`,
      text,
      submit: options.submit ?? false,
    });
    return this.snapshot();
  }

  /** Fills several fields in one tool call (one settle wait instead of one per field). */
  async fillForm(fields: ReadonlyArray<{ type: FieldType; name: string; value: string }>): Promise<AriaSnapshot> {
    const page = await this.snapshot();
    const key = this.args.elementArgumentOfItems('browser_fill_form', 'fields');
    await this.call('browser_fill_form', {
      fields: fields.map((f) => ({ [key]: page.find(f.type, f.name).ref, name: f.name, type: f.type, value: f.value })),
    });
    return this.snapshot();
  }

  /**
   * Runs a function in the page and returns its JSON result. The page is the place to read state a snapshot
   * does not show (localStorage, cookies).
   */
  async evaluate<T>(fn: string): Promise<T> {
    const text = await this.call('browser_evaluate', { function: fn });
    const result = /### Result\n([\s\S]*?)(?:\n### |$)/.exec(text)?.[1]?.trim();
    if (result === undefined) throw new Error(`browser_evaluate returned no result:\n${text}`);
    return (result === 'undefined' ? undefined : JSON.parse(result)) as T;
  }

  /** Calls a tool and returns its text; a tool error becomes a thrown Error naming the tool and arguments. */
  async call(name: string, args: Record<string, unknown>): Promise<string> {
    const result = await this.container.client.callTool({ name, arguments: args });
    const content = Array.isArray(result.content) ? (result.content as Array<{ type: string; text?: string }>) : [];
    const text = content.flatMap((c) => (c.type === 'text' && c.text !== undefined ? [c.text] : [])).join('\n');
    if (result.isError) throw new Error(`${name} ${JSON.stringify(args)} failed:\n${text}`);
    return text;
  }
}
