/**
 * Functions whose body spans more than N lines (default 80), in every non-test .ts file of a tree:
 * function declarations and expressions, arrow functions, methods, accessors and constructors,
 * found with the TypeScript compiler API (parse only, no type checking).
 *
 *   npx tsx scripts/long-functions.ts [--repo DIR] [--min-lines N] [--json]
 *
 * Length = last line of the body − first line of the body + 1 (the braces included). Nested
 * functions are reported on their own as well. Skipped: node_modules, test/, dist/, dot folders,
 * *.d.ts and *.test.ts files. Output: one line per function, longest first,
 * `file:line  length  kind name`, then a count; with --json, one JSON array instead.
 */
import ts from 'typescript';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const SKIP_DIRS = new Set(['node_modules', 'test', 'dist']);

export interface LongFunction {
  file: string;
  line: number;
  lines: number;
  kind: string;
  name: string;
}

function arg(name: string): string | undefined {
  const k = process.argv.indexOf(name);
  return k >= 0 ? process.argv[k + 1] : undefined;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) out.push(...sourceFiles(path));
    } else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && !entry.name.endsWith('.test.ts')) {
      out.push(path);
    }
  }
  return out.sort();
}

function nameOf(node: ts.SignatureDeclaration, sf: ts.SourceFile): string {
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  if (node.name) return node.name.getText(sf);
  // an anonymous function takes the name it is bound to (const x = () => …, { x: function () {} })
  const p = node.parent;
  if (p && (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) && p.name) return p.name.getText(sf);
  if (p && ts.isCallExpression(p)) return `(argument of ${p.expression.getText(sf).slice(0, 40)})`;
  return '(anonymous)';
}

export function longFunctions(root: string, minLines = 80): LongFunction[] {
  const found: LongFunction[] = [];
  for (const path of sourceFiles(root)) {
    const sf = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const body = node.body as ts.Node;
        const first = sf.getLineAndCharacterOfPosition(body.getStart(sf)).line;
        const last = sf.getLineAndCharacterOfPosition(body.getEnd()).line;
        const lines = last - first + 1;
        if (lines > minLines) {
          found.push({
            file: relative(root, path),
            line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1,
            lines,
            kind: ts.SyntaxKind[node.kind],
            name: nameOf(node as ts.SignatureDeclaration, sf),
          });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return found.sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file) || a.line - b.line);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = arg('--repo') ?? process.cwd();
  const minLines = Number(arg('--min-lines') ?? 80);
  const found = longFunctions(root, minLines);
  if (process.argv.includes('--json')) console.log(JSON.stringify(found, null, 2));
  else {
    for (const f of found) console.log(`${`${f.file}:${f.line}`.padEnd(44)} ${String(f.lines).padStart(4)} lines  ${f.kind} ${f.name}`);
    console.log(`${found.length} function(s) with a body over ${minLines} lines`);
  }
}
