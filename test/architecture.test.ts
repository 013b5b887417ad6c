// The house rules (docs/architecture.md): every import points down the layers, no value-import cycles
// between files, and the gateway (runtime-ied/main.ts and its bundle) carries nothing of the trainer,
// the twin, the plant or the CLI, and no TensorFlow.js.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';
import { analyzeGateway } from '../deploy/build-gateway.ts';

/** What each top-level folder may import besides itself (docs/architecture.md). */
export const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  core: [],
  sim: ['core'],
  protocol: ['core'],
  trainer: ['core', 'sim'],
  'runtime-ied': ['core', 'protocol', 'sim'],
  'runtime-edge': ['core', 'protocol', 'sim'],
  deploy: ['core', 'protocol'],
  twin: ['core', 'sim', 'protocol', 'trainer', 'runtime-ied', 'deploy'],
  plant: ['core', 'sim', 'protocol', 'runtime-ied', 'runtime-edge', 'twin'],
  cli: ['core', 'sim', 'protocol', 'trainer', 'runtime-ied', 'runtime-edge', 'deploy', 'twin', 'plant'],
  bench: ['core', 'sim', 'protocol', 'trainer', 'runtime-ied', 'runtime-edge', 'deploy', 'twin', 'plant'],
  scripts: ['core', 'sim', 'protocol', 'trainer'],
};

interface Import {
  readonly from: string;
  readonly to: string;
  /** `import type` / `export type`: erased at run time */
  readonly typeOnly: boolean;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === 'node_modules' ? [] : sources(path);
    return /\.ts$/.test(entry) ? [path] : [];
  });
}

/**
 * Relative imports of one file, read by the TypeScript parser (any quotes, side-effect imports,
 * re-exports, dynamic import(), several statements on a line); type-only ones are marked.
 */
export function importsOf(file: string, text: string): Import[] {
  const out: Import[] = [];
  const add = (spec: string, typeOnly: boolean) => {
    if (spec.startsWith('.')) out.push({ from: file, to: normalize(join(dirname(file), spec)), typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const onlyTypes = clause !== undefined && (clause.isTypeOnly || (!clause.name && named !== undefined && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier.text, onlyTypes);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) {
      add(node.arguments[0].text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS));
  return out;
}

const top = (path: string) => path.split('/')[0] ?? path;
const folders = Object.keys(MAY_IMPORT);
const files = folders.flatMap((f) => sources(f));
// package.json (the version that --version prints) is the package's metadata, not a layer
const graph = files.flatMap((f) => importsOf(f, readFileSync(f, 'utf8'))).filter((i) => i.to !== 'package.json');

t.test('every import points down the layers', async (t) => {
  t.ok(files.length > 80, `${files.length} source files read`);
  const upward = graph.filter((i) => top(i.from) !== top(i.to) && !MAY_IMPORT[top(i.from)]?.includes(top(i.to)));
  t.same(upward.map((i) => `${i.from} → ${i.to}`), [], 'no import runs up a layer or sideways');
  const rule = (from: string, to: string) => !!MAY_IMPORT[from]?.includes(to);
  // the checker itself can fail: the rules refuse what the issue found
  t.notOk(rule('runtime-ied', 'trainer'), 'the gateway may not import the trainer');
  t.notOk(rule('sim', 'protocol') || rule('core', 'sim'), 'the bottom stays the bottom');
  t.same(importsOf('runtime-ied/x.ts', "import { a } from '../cli/y.ts';\nconst m = await import('../trainer/z.ts');").map((i) => i.to), ['cli/y.ts', 'trainer/z.ts']);
  const tricky = importsOf('sim/x.ts', `import '../twin/a.ts'; import { b } from "../plant/b.ts"; export * from '../cli/c.ts';\nimport type { D } from '../trainer/d.ts';\nimport { type E } from '../deploy/e.ts';`);
  t.same(tricky.map((i) => [i.to, i.typeOnly]), [['twin/a.ts', false], ['plant/b.ts', false], ['cli/c.ts', false], ['trainer/d.ts', true], ['deploy/e.ts', true]], 'side-effect, double-quoted, re-exported and type-only imports are all seen');
});

t.test('no cycle of value imports between files', async (t) => {
  const edges = new Map<string, string[]>();
  for (const i of graph) if (!i.typeOnly) edges.set(i.from, [...(edges.get(i.from) ?? []), i.to]);
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (f: string, path: string[]) => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      cycles.push([...path.slice(path.indexOf(f)), f].join(' → '));
      return;
    }
    state.set(f, 'open');
    for (const g of edges.get(f) ?? []) visit(g, [...path, f]);
    state.set(f, 'done');
  };
  for (const f of files) visit(f, []);
  t.same(cycles, []);
});

t.test('the gateway carries nothing of the trainer, the twin, the plant or the CLI', async (t) => {
  // every file reachable from the gateway's entry point, type-only imports included
  const reach = new Set<string>();
  const stack = ['runtime-ied/main.ts'];
  while (stack.length > 0) {
    const f = stack.pop() as string;
    if (reach.has(f)) continue;
    reach.add(f);
    stack.push(...graph.filter((i) => i.from === f).map((i) => i.to));
  }
  const foreign = [...reach].filter((f) => !['core', 'protocol', 'sim', 'runtime-ied'].includes(top(f)));
  t.same(foreign, [], 'only core/, protocol/, sim/ and runtime-ied/');
  const packages = [...reach].flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/from '(@?[a-z][^'.]*)'/g)].map((m) => m[1] as string));
  t.same(packages.filter((p) => /^@tensorflow|^cli-table3|^vega|^@resvg|^cli-progress/.test(p)), [], 'no trainer or report packages');

  const bundle = await analyzeGateway();
  const inside = bundle.inputs.map((p) => relative('.', p));
  t.same(inside.filter((p) => p.includes('node_modules/@tensorflow')), [], 'no TensorFlow.js in the bundle');
  t.same(bundle.externalImports.filter((p) => p.startsWith('@tensorflow')), [], 'nor imported from outside it');
  t.same(inside.filter((p) => !p.includes('node_modules') && p !== 'package.json' && !['core', 'protocol', 'sim', 'runtime-ied'].includes(top(p))), [], 'none of our other folders in the bundle');
  t.ok(bundle.bytes > 100_000, `bundle ${(bundle.bytes / 1e6).toFixed(2)} MB (size goal in bench/gateway.ts)`);
});
