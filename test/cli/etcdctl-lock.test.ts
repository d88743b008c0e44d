// lock and elect through etcdctl-ts and the real etcdctl, side by side, left running while the test contends with
// them, then stopped with SIGTERM: what they printed (every output format), exit codes, and the keys they leave.
// Lock and candidate keys are <name>/<session lease ID in hex>, and each server makes its own lease IDs: each side's
// key is read from its own output, and in everything compared it is replaced by a placeholder (as the key, base64 in
// JSON, the lease in decimal, and the lease's varint in protobuf output).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertSame, sideReplacements, varintText, withPair, type CliResult, type Pair, type RunningPair } from '../helpers/etcdctl.js';

function text(b: Buffer): string {
  return b.toString('latin1');
}

type Vars = Record<string, [string, string]>;

/** Placeholders for a key <name>/<lease hex> on each side and its lease. */
function keyVars(name: string, keys: [string, string]): Vars {
  const lease = keys.map((k) => BigInt(`0x${k.slice(k.lastIndexOf('/') + 1)}`)) as [bigint, bigint];
  return {
    [`@${name}@`]: keys,
    [`@${name}.b64@`]: [Buffer.from(keys[0], 'latin1').toString('base64'), Buffer.from(keys[1], 'latin1').toString('base64')],
    [`@${name}.lease@`]: [lease[0].toString(), lease[1].toString()],
    [`@${name}.hex@`]: [lease[0].toString(16).padStart(16, '0'), lease[1].toString(16).padStart(16, '0')],
    [`@${name}.varint@`]: [varintText(lease[0]), varintText(lease[1])],
  };
}

/** The first `<prefix>/<hex>` key in a running pair's output, on each side. */
function keysIn(r: RunningPair, prefix: string): [string, string] {
  const find = (res: CliResult): string => {
    const m = new RegExp(`${prefix}/[0-9a-f]+`).exec(text(res.stdout));
    if (m === null) throw new Error(`no ${prefix}/ key in ${text(res.stdout)}`);
    return m[0];
  };
  return [find(r.real.output()), find(r.ts.output())];
}

test('lock and elect agree with etcdctl', { timeout: 150_000 }, async (t) => {
  await withPair(t, async (pair) => {
    let vars: Vars = {};
    const same = (args: string[], opts: Parameters<Pair['same']>[1] = {}): Promise<CliResult> => pair.same(args, { ...opts, vars: { ...vars, ...(opts.vars ?? {}) } });
    const start = (args: string[]): RunningPair => {
      const r = pair.start(args, { vars });
      // compared with the placeholders known by then (keys are learnt from the output)
      return { ...r, same: (label?: string) => r.same(label, vars) };
    };
    /** waits until both servers hold `n` keys under `prefix` (a contender has queued up) */
    const keysUnder = async (prefix: string, n: number): Promise<void> => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const [a, b] = await pair.both(['get', prefix, '--prefix', '--keys-only']);
        const count = (r: CliResult): number => text(r.stdout).split('\n').filter((l) => l.startsWith(prefix)).length;
        if (count(a) === n && count(b) === n) return;
        if (Date.now() > deadline) throw new Error(`${prefix}: ${count(a)} and ${count(b)} keys, waiting for ${n}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const printedKey = (prefix: string) => (out: string): boolean => new RegExp(`${prefix}/[0-9a-f]+\\n`).test(out);
    /** a contender that queued up must not have got the lock (or leadership) yet */
    const stillWaiting = async (r: RunningPair, label: string): Promise<void> => {
      await new Promise((res) => setTimeout(res, 300));
      for (const side of [r.real, r.ts]) assert.equal(text(side.output().stdout), '', `${label} printed before it got its turn`);
    };

    await t.test('lock: hold, contend, hand over, in every format', async () => {
      const holder = start(['lock', 'L1']);
      await holder.waitFor(printedKey('L1'));
      vars = { ...vars, ...keyVars('K1', keysIn(holder, 'L1')) };
      const waiter = start(['lock', 'L1']);
      await keysUnder('L1/', 2);
      await stillWaiting(waiter, 'a second lock L1');
      vars = { ...vars, ...keyVars('K2', (await pair.both(['get', 'L1/', '--prefix', '--keys-only'])).map((r) => text(r.stdout).split('\n').filter((l) => l.startsWith('L1/'))[1]!) as [string, string]) };
      for (const w of ['json', 'fields', 'protobuf']) await same(['get', 'L1/', '--prefix', '-w', w]);
      holder.signal('SIGTERM');
      await holder.same('lock L1 (holder)');
      await waiter.waitFor(printedKey('L1'));
      waiter.signal('SIGTERM');
      await waiter.same('lock L1 (waiter, then holder)');
      await same(['get', 'L1/', '--prefix', '-w', 'json']);

      for (const w of ['json', 'fields', 'protobuf']) {
        const r = start(['lock', `L-${w}`, '-w', w]);
        await r.waitFor((out) => (w === 'json' ? out.endsWith('\n') : w === 'fields' ? out.includes('"Count"') : out.length > 0));
        if (w === 'protobuf') await new Promise((res) => setTimeout(res, 200));
        const [a, b] = [r.real.output(), r.ts.output()];
        const keyOf = (res: CliResult): string => {
          const out = text(res.stdout);
          const b64 = /"key":"([^"]+)"/.exec(out)?.[1];
          if (b64 !== undefined) return Buffer.from(b64, 'base64').toString('latin1');
          const m = new RegExp(`L-${w}/[0-9a-f]+`).exec(out);
          if (m === null) throw new Error(`no key in ${out}`);
          return m[0];
        };
        vars = { ...vars, ...keyVars(`KW${w}`, [keyOf(a), keyOf(b)]) };
        r.signal('SIGTERM');
        await r.same(`lock -w ${w}`);
      }
      // the lock is taken, then printing fails: the key stays until its session's lease expires
      await start(['lock', 'L-table', '-w', 'table']).same('lock -w table');
      // removed now: its lease expiring later would delete it at a different revision on each server
      await same(['del', 'L-table/', '--prefix']);
    });

    await t.test('lock: a waiter interrupted, an expired session', async () => {
      const holder = start(['lock', 'L2']);
      await holder.waitFor(printedKey('L2'));
      vars = { ...vars, ...keyVars('K3', keysIn(holder, 'L2')) };
      const waiter = start(['lock', 'L2']);
      await keysUnder('L2/', 2);
      waiter.signal('SIGTERM');
      await waiter.same('lock L2 (waiter interrupted)');
      await same(['get', 'L2/', '--prefix', '--keys-only']);
      holder.signal('SIGTERM');
      await holder.same('lock L2 (holder)');

      const short = start(['lock', 'L3', '--ttl', '3']);
      await short.waitFor(printedKey('L3'));
      vars = { ...vars, ...keyVars('K4', keysIn(short, 'L3')) };
      await same(['lease', 'revoke', '@K4.hex@']);
      await short.same('lock --ttl 3 whose lease is revoked');
    });

    await t.test('lock: exec-command while holding', async () => {
      const show = ['--', 'sh', '-c', 'echo "key=$ETCD_LOCK_KEY rev=$ETCD_LOCK_REV"; exit ${CODE:-0}'];
      for (const code of ['0', '3']) {
        const [a, b] = await pair.both(['lock', 'L4', ...show], { env: { CODE: code } });
        const key = (r: CliResult): string => /key=(L4\/[0-9a-f]+)/.exec(text(r.stdout))?.[1] ?? '';
        vars = { ...vars, ...keyVars(`KX${code}`, [key(a), key(b)]) };
        await same(['get', 'L4/', '--prefix', '--keys-only'], { label: `lock exec exit ${code}: the key is gone` });
        const endpoints: [string, string] = [pair.real.endpoint, pair.ts.endpoint];
        assertSame(a, b, { endpoints, replace: sideReplacements(vars, 0) }, `lock L4 -- sh (exit ${code})`, { endpoints, replace: sideReplacements(vars, 1) });
      }
      await same(['lock', 'L4', 'no-such-command-here']);
      await same(['lock', 'L4', '--', 'sh', '-c', 'kill -9 $$']);
      await same(['lock']);
      await same(['lock', 'L4', '--ttl', 'x']);
      await same(['lock', 'L4', '--ttl', '9000000001']);
      await same(['lock', '--help']);
    });

    await t.test('elect: observers, candidates, a new value, a hand-over', async () => {
      const leases = async (): Promise<[string[], string[]]> =>
        (await pair.both(['lease', 'list'])).map((r) => text(r.stdout).match(/^[0-9a-f]{16}$/gm) ?? []) as unknown as [string[], string[]];
      const before = await leases();
      const watchers = [start(['elect', '-l', 'E1']), start(['elect', '-l', 'E1', '-w', 'json']), start(['elect', '-l', 'E1', '-w', 'fields'])];
      // an observer's session (a lease) comes just before it asks who leads: wait for the three sessions on both sides
      for (const deadline = Date.now() + 10_000; ; ) {
        const now = await leases();
        if (now.every((ids, side) => ids.filter((id) => !before[side]!.includes(id)).length === 3)) break;
        if (Date.now() > deadline) throw new Error('the observers did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 300));
      const c1 = start(['elect', 'E1', 'p1']);
      await c1.waitFor(printedKey('E1'));
      vars = { ...vars, ...keyVars('C1', keysIn(c1, 'E1')) };
      for (const w of watchers) await w.waitFor((out) => out.includes('p1') || out.includes('cDE='));
      const c2 = start(['elect', 'E1', 'p2']);
      await keysUnder('E1/', 2);
      await stillWaiting(c2, 'a second candidate');
      vars = { ...vars, ...keyVars('C2', (await pair.both(['get', 'E1/', '--prefix', '--keys-only'])).map((r) => text(r.stdout).split('\n').filter((l) => l.startsWith('E1/'))[1]!) as [string, string]) };
      await same(['put', '@C1@', 'new value', '--lease', '@C1.hex@']);
      for (const w of watchers) await w.waitFor((out) => out.includes('new value') || out.includes('bmV3IHZhbHVl'));
      c1.signal('SIGTERM');
      await c1.same('elect E1 p1 (leader, resigns)');
      await c2.waitFor(printedKey('E1'));
      for (const w of watchers) await w.waitFor((out) => out.includes('p2') || out.includes('cDI='));
      c2.signal('SIGTERM');
      await c2.same('elect E1 p2');
      for (const w of watchers) w.signal('SIGTERM');
      for (const [i, w] of watchers.entries()) await w.same(`elect -l E1 (${['simple', 'json', 'fields'][i]})`);
      await same(['get', 'E1/', '--prefix', '--keys-only']);

      const c3 = start(['elect', 'E2', 'p3', '-w', 'json']);
      await c3.waitFor((out) => out.includes('cDM='));
      const key = (r: CliResult): string => Buffer.from(/"key":"([^"]+)"/.exec(text(r.stdout))![1]!, 'base64').toString('latin1');
      vars = { ...vars, ...keyVars('C3', [key(c3.real.output()), key(c3.ts.output())]) };
      const waiting = start(['elect', 'E2', 'p4']);
      await keysUnder('E2/', 2);
      waiting.signal('SIGTERM');
      await waiting.same('elect E2 p4 (interrupted while waiting)');
      c3.signal('SIGTERM');
      await c3.same('elect E2 p3 -w json');
      await same(['get', 'E2/', '--prefix', '--keys-only']);
    });

    await t.test('elect: argument errors and help', async () => {
      for (const args of [['elect'], ['elect', 'a'], ['elect', '-l', 'a', 'b'], ['elect', 'a', 'b', 'c'], ['elect', '--help']]) {
        await same(args);
      }
    });
  });
});
