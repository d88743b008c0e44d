// The shape of the source tree, checked: no import cycles under src/ (a module reaches another subsystem through a
// narrow interface, never back into what uses it), a subsystem is reached only through its index.ts, and the pure
// subsystems stay pure: src/raft does no I/O and reads no clock (time is ticks, randomness is injected); the driver
// and the simulation, the schema, the clock and the recipes import no storage or networking.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** the repository root, from dist/test/architecture */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const src = path.join(root, 'src');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

interface Imports {
  /** relative imports, resolved to files of the tree */
  local: string[];
  /** package and node: imports, as written */
  packages: string[];
}

/** Every `import ... from`, `export ... from` and `import('...')` of a file (type-only imports count: they still tie modules). */
function importsOf(file: string): Imports {
  const text = fs.readFileSync(file, 'utf8');
  const local: string[] = [];
  const packages: string[] = [];
  const specifiers = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g),
    ...text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g),
    ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
  for (const spec of specifiers) {
    if (!spec.startsWith('.')) {
      packages.push(spec);
      continue;
    }
    let target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
    if (!target.endsWith('.ts')) target += '.ts';
    if (!fs.existsSync(target)) {
      const index = path.join(target.replace(/\.ts$/, ''), 'index.ts');
      assert.ok(fs.existsSync(index), `${path.relative(root, file)} imports ${spec}, which does not exist`);
      target = index;
    }
    local.push(target);
  }
  return { local, packages };
}

const files = sourceFiles(src);
const graph = new Map(files.map((f) => [f, importsOf(f)]));

/** Tarjan's strongly connected components: each one with more than one file (or a self-import) is a cycle. */
function cycles(): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.local ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)!.local.includes(v)) found.push(component.map((f) => path.relative(src, f)).sort());
    }
  };
  for (const f of files) if (!idx.has(f)) visit(f);
  return found;
}

/** Every file a file reaches through relative imports, itself included. */
function reach(start: string): Set<string> {
  const seen = new Set<string>([start]);
  const todo = [start];
  while (todo.length > 0) {
    for (const next of graph.get(todo.pop()!)?.local ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        todo.push(next);
      }
    }
  }
  return seen;
}

test('the tree is found and parsed (the checks below look at something)', () => {
  assert.ok(files.length > 100, `only ${files.length} files under ${src}`);
  assert.ok(files.some((f) => f.endsWith(path.join('server', 'server.ts'))));
});

test('no import cycles under src/', () => {
  assert.deepEqual(cycles().map((c) => c.join(' <-> ')), []);
});

test('src/raft is pure: no I/O, no clock or timers; it reaches only the limits, the error catalogue and msgpack', () => {
  // msgpackr encodes conf changes (pure JS); node:assert is the invariant check (src/errors/assert.ts)
  const allowedPackages = new Set(['msgpackr', 'node:assert']);
  for (const file of files.filter((f) => f.startsWith(path.join(src, 'raft') + path.sep))) {
    const rel = path.relative(src, file);
    for (const reached of reach(file)) {
      const where = path.relative(src, reached);
      const allowed = where.startsWith('raft' + path.sep) || where.startsWith('errors' + path.sep) || where === path.join('config', 'limits.ts');
      assert.ok(allowed, `${rel} reaches ${where}`);
      const bad = graph.get(reached)!.packages.filter((p) => !allowedPackages.has(p));
      assert.deepEqual(bad, [], `${where} (reached from ${rel}) imports packages`);
    }
    const text = fs.readFileSync(file, 'utf8').replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const forbidden of ['Date.now', 'performance.now', 'Math.random', 'setTimeout', 'setInterval', 'setImmediate', 'await ']) {
      assert.ok(!text.includes(forbidden), `${rel} uses ${forbidden}`);
    }
  }
});

test('src/proto, src/clock, src/concurrency, src/driver and src/sim reach no storage, networking or worker threads', () => {
  const io = new Set(['lmdb', 'uWebSockets.js', 'piscina', 'node:net', 'node:fs', 'node:worker_threads', 'node:child_process']);
  for (const dir of ['proto', 'clock', 'concurrency', 'driver', 'sim']) {
    for (const file of files.filter((f) => f.startsWith(path.join(src, dir) + path.sep))) {
      for (const reached of reach(file)) {
        const bad = graph.get(reached)!.packages.filter((p) => io.has(p));
        assert.deepEqual(bad, [], `${path.relative(src, file)} reaches ${path.relative(src, reached)}, which imports ${bad.join(', ')}`);
      }
    }
  }
});

test("a subsystem reaches another only through that subsystem's index.ts", () => {
  // config/limits.ts: the named limits, importable without the flag parser (src/raft stays pure);
  // proto/types.ts: the schema alone, which the client re-exports as its API (without the frame codec)
  const allowed = new Set([path.join(src, 'config', 'limits.ts'), path.join(src, 'proto', 'types.ts')]);
  const folderOf = (f: string): string => path.relative(src, f).split(path.sep)[0]!;
  const deep: string[] = [];
  for (const [file, { local }] of graph) {
    for (const target of local) {
      if (folderOf(target) === folderOf(file) || allowed.has(target)) continue;
      if (path.basename(target) !== 'index.ts' || path.dirname(target) !== path.join(src, folderOf(target))) deep.push(`${path.relative(src, file)} -> ${path.relative(src, target)}`);
    }
  }
  assert.deepEqual(deep, []);
});
