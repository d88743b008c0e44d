#!/usr/bin/env node
// Runs every compiled *.test.js under dist/test with node:test (Node 20 does not expand globs itself, and would run
// helper modules as tests if given the folder). TEST_FILTER=substring narrows the files; SEED is passed through.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

/** A compiled test whose source is gone (renamed or deleted since the last build) is not run: tsc leaves it behind. */
const hasSource = (file) => existsSync(file.replace(/^dist\//, '').replace(/\.js$/, '.ts'));

/**
 * Files that take tens of seconds (multi-process clusters, the etcdctl comparisons, paced worker rounds) start first,
 * so that the run does not end on one of them while the other slot is idle. Order only: every file still runs.
 */
const SLOW_FIRST = [/\/cluster\//, /\/lease\/cluster\./, /\/watch\/filter-worker\./, /\/cli\//, /\/watch\/cluster\./, /\/bench\/loadgen\./, /\/http\/fuzz\./];
const rank = (file) => {
  const i = SLOW_FIRST.findIndex((pattern) => pattern.test(file));
  return i < 0 ? SLOW_FIRST.length : i;
};

const filter = process.env.TEST_FILTER ?? '';
const files = find('dist/test')
  .filter((f) => f.includes(filter) && hasSource(f))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
if (files.length === 0) {
  console.error(`no test files match "${filter}"`);
  process.exit(1);
}
// Three files at a time on two cores: the long files mostly wait (child processes, a real etcd, paced rounds), and with
// two at a time the cores sat idle for a quarter of the run (4 min 3 s against 3 min 13-19 s with three, same suite).
const concurrency = process.env.TEST_CONCURRENCY ?? '3';
// A test that never settles fails after this long instead of holding CI until its own limit (tests that need longer
// say so with their own timeout option).
const timeout = process.env.TEST_TIMEOUT_MS ?? '240000';
const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, `--test-timeout=${timeout}`, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
