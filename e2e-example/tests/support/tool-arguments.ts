/**
 * @playwright/mcp renames tool arguments between versions: 0.0.83 `browser_click` takes `target`, older ones
 * `ref`. Rather than pin a version in every spec, read each tool's inputSchema once and name the argument
 * the server actually declares.
 */
export interface ToolListingClient {
  listTools(): Promise<{ tools: Array<{ name: string; inputSchema: { properties?: Record<string, unknown> } }> }>;
}

export type ElementArgument = 'target' | 'ref';

interface JsonSchemaObject {
  properties?: Record<string, unknown>;
  items?: JsonSchemaObject;
}

export class ToolArguments {
  private constructor(private readonly schemas: ReadonlyMap<string, JsonSchemaObject>) {}

  /** One listTools() per client: the answer cannot change while the session lives. */
  static async read(client: ToolListingClient): Promise<ToolArguments> {
    let pending = cache.get(client);
    if (!pending) {
      pending = client.listTools().then(({ tools }) => new ToolArguments(new Map(tools.map((t) => [t.name, t.inputSchema]))));
      cache.set(client, pending);
      // A failed read must not poison later tests of the same worker.
      pending.catch(() => cache.delete(client));
    }
    return pending;
  }

  /** Name of the argument that points at an element for `tool` (e.g. browser_click → 'target'). */
  elementArgument(tool: string): ElementArgument {
    return pickElementArgument(tool, this.schema(tool).properties);
  }

  /** The same for each entry of an array argument (browser_fill_form's `fields`). */
  elementArgumentOfItems(tool: string, arrayArgument: string): ElementArgument {
    const array = this.schema(tool).properties?.[arrayArgument] as JsonSchemaObject | undefined;
    return pickElementArgument(`${tool}.${arrayArgument}[]`, array?.items?.properties);
  }

  private schema(tool: string): JsonSchemaObject {
    const schema = this.schemas.get(tool);
    if (!schema) throw new Error(`The MCP server has no tool ${tool}; it offers: ${[...this.schemas.keys()].join(', ')}`);
    return schema;
  }
}

const cache = new WeakMap<ToolListingClient, Promise<ToolArguments>>();

function pickElementArgument(where: string, properties: Record<string, unknown> | undefined): ElementArgument {
  if (properties && 'target' in properties) return 'target';
  if (properties && 'ref' in properties) return 'ref';
  throw new Error(`${where} takes neither 'target' nor 'ref' (arguments: ${Object.keys(properties ?? {}).join(', ')}); update tests/support for this @playwright/mcp version`);
}
