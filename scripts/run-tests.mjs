#!/usr/bin/env node
// Runs every compiled *.test.js under dist/test with node:test (Node 20 does not expand globs itself, and would run
// helper modules as tests if given the folder). TEST_FILTER=substring narrows the files; SEED is passed through.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
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

const filter = process.env.TEST_FILTER ?? '';
const files = find('dist/test').filter((f) => f.includes(filter)).sort();
if (files.length === 0) {
  console.error(`no test files match "${filter}"`);
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
// A test that never settles fails after this long instead of holding CI until its own limit (tests that need longer
// say so with their own timeout option).
const timeout = process.env.TEST_TIMEOUT_MS ?? '240000';
const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, `--test-timeout=${timeout}`, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
