/**
 * The accessibility snapshot `browser_snapshot` returns: YAML lines such as
 *   - button "Add Cinnamon Roll to cart" [ref=e17] [cursor=pointer]
 * Refs are how @playwright/mcp names elements for click/type; they are only valid for the page state the
 * snapshot was taken from, so take a fresh snapshot after anything that changes the page.
 */
export interface SnapshotNode {
  role: string;
  /** Accessible name; '' when the element has none. */
  name: string;
  ref: string;
  /** Text after the colon on the same line (`- paragraph [ref=e16]: $3.50` → '$3.50'). */
  text: string;
}

const NODE_LINE = /^\s*- (?<role>[a-z]+)(?: "(?<name>(?:[^"\\]|\\.)*)")?(?<attrs>(?: \[[^\]]*\])*)(?::\s*(?<text>.*))?$/;

export class AriaSnapshot {
  readonly nodes: readonly SnapshotNode[];

  constructor(readonly yaml: string) {
    this.nodes = yaml.split('\n').flatMap((line) => {
      const groups = NODE_LINE.exec(line)?.groups;
      const ref = groups?.attrs ? /\[ref=([^\]]+)\]/.exec(groups.attrs)?.[1] : undefined;
      if (!groups?.role || !ref) return [];
      return [{ role: groups.role, name: unquote(groups.name ?? ''), ref, text: textOf(groups.text ?? '') }];
    });
  }

  /** Nodes with this role whose name equals `name` (a string) or matches it (a RegExp). */
  findAll(role: string, name: string | RegExp): SnapshotNode[] {
    return this.nodes.filter((n) => n.role === role && (typeof name === 'string' ? n.name === name : name.test(n.name)));
  }

  /**
   * The one node with this role and name. Fails with the candidates listed, because "ref not found" alone
   * sends you to the page source when the answer is usually a renamed button.
   */
  find(role: string, name: string | RegExp): SnapshotNode {
    const matches = this.findAll(role, name);
    if (matches.length === 1) return matches[0] as SnapshotNode;
    const sameRole = this.nodes.filter((n) => n.role === role).map((n) => JSON.stringify(n.name));
    const problem = matches.length === 0 ? 'no' : `${matches.length}`;
    throw new Error(
      `Snapshot has ${problem} '${role}' named ${String(name)}; '${role}' names on the page: ${sameRole.join(', ') || 'none'}`,
    );
  }

  has(role: string, name: string | RegExp): boolean {
    return this.findAll(role, name).length > 0;
  }

  /** Texts of every node with this role, in page order (`status`, `listitem` and `paragraph` carry text, not names). */
  texts(role: string): string[] {
    return this.nodes.filter((n) => n.role === role).map((n) => n.text);
  }

  /** Names of every node with this role, in page order (e.g. the product headings of a list). */
  names(role: string): string[] {
    return this.nodes.filter((n) => n.role === role).map((n) => n.name);
  }
}

function unquote(name: string): string {
  return name.replace(/\\(.)/g, '$1');
}

/** YAML quotes a text that contains a colon (`- paragraph [ref=e26]: "Total: $7.00"`). */
function textOf(raw: string): string {
  const text = raw.trim();
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) return unquote(text.slice(1, -1));
  return text;
}
