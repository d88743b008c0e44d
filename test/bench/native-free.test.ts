// native-free-bench/ is the load generator and the bench tools that must run on any machine with Node, so what they
// load must be JavaScript only. This walks the import graph Node follows when it runs them: their compiled files
// (dist/native-free-bench), every relative import those reach (src/ included, transitively) and the packages they
// import, and fails on a package that needs a native binary (an addon of its own, or a required dependency that has
// one). An optional native accelerator with a JavaScript fallback (msgpackr's msgpackr-extract) is allowed.
// Benchmarks of the member's own code, LMDB included, live in test/bench instead (micro.ts, storage-experiments.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** dist/, from dist/test/bench */
const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const REPO = path.dirname(DIST);
const BENCH = path.join(DIST, 'native-free-bench');

/** Packages whose only purpose is loading or building an addon: depending on one makes a package native. */
const ADDON_LOADERS = new Set(['bindings', 'nan', 'node-addon-api', 'node-gyp-build', 'node-gyp-build-optional-packages', 'prebuild-install', '@mapbox/node-pre-gyp', 'node-pre-gyp']);

interface PackageJson {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** The installed package `name` as Node resolves it from `fromDir` (the nearest node_modules that holds it). */
function packageDir(name: string, fromDir: string): string {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`package ${name} is not installed (looked from ${fromDir})`);
  }
}

/** Whether a package directory (not its own node_modules) holds an addon or the recipe to build one. */
function hasAddon(dir: string): boolean {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && hasAddon(path.join(dir, entry.name))) return true;
    } else if (entry.name === 'binding.gyp' || entry.name.endsWith('.node')) return true;
  }
  return false;
}

const nativeCache = new Map<string, string | null>();

/** Why the package is native (a chain of package names ending in the one with the addon), or null if it is not. */
function nativeReason(name: string, fromDir: string): string | null {
  const dir = packageDir(name, fromDir);
  const cached = nativeCache.get(dir);
  if (cached !== undefined) return cached;
  nativeCache.set(dir, null); // a dependency cycle is not native by itself
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
  const optional = new Set(Object.keys(pkg.optionalDependencies ?? {}));
  const required = Object.keys(pkg.dependencies ?? {}).filter((d) => !optional.has(d));
  let reason: string | null = null;
  if (hasAddon(dir)) reason = `${name} (has a native addon)`;
  for (const dep of required) {
    if (reason !== null) break;
    if (ADDON_LOADERS.has(dep)) reason = `${name} (depends on ${dep})`;
    else {
      const r = nativeReason(dep, dir);
      if (r !== null) reason = `${name} -> ${r}`;
    }
  }
  nativeCache.set(dir, reason);
  return reason;
}

interface Graph {
  /** file -> the file that imported it first (null for the starting files) */
  files: Map<string, string | null>;
  /** package -> the file that imported it first */
  packages: Map<string, string>;
}

/** Every file and package reached from the starting files through static and dynamic imports. */
function importGraph(start: string[]): Graph {
  const files = new Map<string, string | null>(start.map((f) => [f, null]));
  const packages = new Map<string, string>();
  const builtins = new Set(builtinModules);
  const queue = [...start];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (specifier.startsWith('.')) {
        const target = path.resolve(path.dirname(file), specifier);
        assert.ok(fs.existsSync(target), `${rel(file)} imports ${specifier}, which does not exist`);
        if (!files.has(target)) {
          files.set(target, file);
          queue.push(target);
        }
      } else if (!specifier.startsWith('node:') && !builtins.has(specifier)) {
        const name = packageName(specifier);
        if (!packages.has(name)) packages.set(name, file);
      }
    }
  }
  return { files, packages };
}

function rel(file: string): string {
  return path.relative(DIST, file);
}

/** "native-free-bench/x.js -> src/y/index.js -> src/y/z.js": how a file was reached. */
function chain(graph: Graph, file: string): string {
  const steps: string[] = [];
  for (let f: string | null | undefined = file; f !== null && f !== undefined; f = graph.files.get(f)) steps.unshift(rel(f));
  return steps.join(' -> ');
}

test('the detector knows our native packages from the pure ones', () => {
  for (const name of ['lmdb', 'uWebSockets.js', 'msgpackr-extract']) assert.notEqual(nativeReason(name, REPO), null, `${name} is native`);
  for (const name of ['msgpackr', 'tinybench', 'ws']) assert.equal(nativeReason(name, REPO), null, `${name} is JavaScript (msgpackr's addon is optional)`);
});

test('native-free-bench/ reaches no native package, directly or through src/', () => {
  // the compiled files of today's sources only: dist/ may still hold the output of files moved away since
  const sources = fs.readdirSync(path.join(REPO, 'native-free-bench')).filter((f) => f.endsWith('.ts'));
  const start = sources.map((f) => path.join(BENCH, f.replace(/\.ts$/, '.js')));
  assert.ok(start.some((f) => f.endsWith('loadgen.js')), `the compiled load generator is in ${BENCH}`);
  const graph = importGraph(start);
  assert.ok([...graph.files.keys()].some((f) => rel(f).startsWith(`src${path.sep}client`)), 'the walk follows imports into src/');
  const problems: string[] = [];
  for (const [name, importer] of graph.packages) {
    const reason = nativeReason(name, path.dirname(importer));
    if (reason !== null) problems.push(`${chain(graph, importer)} -> ${reason}`);
  }
  assert.deepEqual(problems, [], 'native packages reached from native-free-bench/');
});
