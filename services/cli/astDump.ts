/**
 * ClickHouse's `EXPLAIN AST` dump read back as a tree: the engine's own parse of a statement, which
 * `tilewatch query` judges instead of the statement's text.
 *
 * The dump is one line per node, indented one space per level, each line the node's id (`Function
 * file (alias f) (children 1)`). Identifiers and aliases are printed raw, so a backquoted name with a
 * line break in it prints extra lines that look like nodes. The reading therefore fails closed: it
 * accepts a dump only when there is exactly one root, every step down is one level, and every node
 * has exactly the number of children its `(children N)` announces. A forged line breaks one of these.
 */

export interface AstNode {
  /** First word of the node's id: `SelectWithUnionQuery`, `Function`, `Literal`, `TableExpression`, `Set`, … */
  readonly kind: string;
  /** The rest of the id, without the `(children N)` suffix: a function's name, a literal, an alias. */
  readonly detail: string;
  readonly children: readonly AstNode[];
}

/** The outcome of reading a dump: a tree, or why the dump cannot be trusted to be one. */
export type AstDumpReading = { readonly kind: 'tree'; readonly root: AstNode } | { readonly kind: 'ambiguous'; readonly reason: string };

interface MutableNode {
  readonly kind: string;
  readonly detail: string;
  readonly declared: number;
  readonly children: MutableNode[];
}

const CHILDREN_SUFFIX = /^(.*) \(children (\d+)\)$/;

/** Reads the text of `EXPLAIN AST` (one node per line, as TabSeparatedRaw prints it). */
export function readAstDump(dump: string): AstDumpReading {
  const lines = dump.replace(/\n+$/, '').split('\n');
  const stack: Array<{ node: MutableNode; depth: number }> = [];
  let root: MutableNode | undefined;
  for (const line of lines) {
    const content = line.trimStart();
    const depth = line.length - content.length;
    if (content === '') return ambiguous('a blank line');
    const suffix = CHILDREN_SUFFIX.exec(content);
    const id = suffix ? suffix[1]! : content;
    const space = id.indexOf(' ');
    const node: MutableNode = {
      kind: space < 0 ? id : id.slice(0, space),
      detail: space < 0 ? '' : id.slice(space + 1),
      declared: suffix ? Number(suffix[2]) : 0,
      children: [],
    };
    if (depth === 0) {
      if (root !== undefined) return ambiguous('more than one root');
      root = node;
      stack.length = 0;
    } else {
      while (stack.length > 0 && stack[stack.length - 1]!.depth >= depth) stack.pop();
      const parent = stack[stack.length - 1];
      if (parent === undefined || parent.depth !== depth - 1) return ambiguous('a line indented past its parent');
      parent.node.children.push(node);
    }
    stack.push({ node, depth });
  }
  if (root === undefined) return ambiguous('no root');
  return countsHold(root) ? { kind: 'tree', root } : ambiguous('a node whose children do not match its count');
}

function countsHold(node: MutableNode): boolean {
  return node.children.length === node.declared && node.children.every(countsHold);
}

function ambiguous(reason: string): AstDumpReading {
  return { kind: 'ambiguous', reason };
}
