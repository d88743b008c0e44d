// lease grant/revoke/timetolive/list/keep-alive and put --lease through etcdctl-ts and the real etcdctl, every output
// format, errors and exit codes. Lease IDs are the one thing that must differ (each server makes its own): each side's
// ID is read from its own `lease grant` output, passed to later commands in its place, and replaced by a placeholder
// (hex, decimal) in what both print. Remaining TTLs depend on when each side asks, so timetolive's remaining seconds
// are masked after checking that both sides report etcd's truncated value (granted - 1, or - 2 on a slow machine).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertSame, sideReplacements, withPair, type CliResult, type Pair } from '../helpers/etcdctl.js';

const FORMATS = ['simple', 'json', 'fields', 'protobuf', 'table'];

function text(b: Buffer): string {
  return b.toString('latin1');
}

type Vars = Record<string, [string, string]>;

/** A lease's ID on each side, as placeholders: @name@ (the %016x both CLIs print and take) and @name.d@ (decimal). */
function leaseVars(name: string, hex: [string, string]): Vars {
  return {
    [`@${name}@`]: hex,
    [`@${name}.d@`]: [BigInt(`0x${hex[0]}`).toString(), BigInt(`0x${hex[1]}`).toString()],
  };
}

test('lease commands agree with etcdctl', { timeout: 150_000 }, async (t) => {
  await withPair(t, async (pair) => {
    let vars: Vars = {};
    let leases = 0;
    const same = (args: string[], opts: Parameters<Pair['same']>[1] = {}): Promise<CliResult> => pair.same(args, { ...opts, vars: { ...vars, ...(opts.vars ?? {}) } });
    const compare = (a: CliResult, b: CliResult, label: string, norm: { collapseRepeats?: boolean } = {}): void => {
      const endpoints: [string, string] = [pair.real.endpoint, pair.ts.endpoint];
      assertSame(a, b, { ...norm, endpoints, replace: sideReplacements(vars, 0) }, label, { ...norm, endpoints, replace: sideReplacements(vars, 1) });
    };
    const remember = (hex: [string, string]): string => {
      const name = `L${++leases}`;
      vars = { ...vars, ...leaseVars(name, hex) };
      return name;
    };
    /** `lease grant` on both sides; the new lease's placeholder name, or null if none was granted */
    const grant = async (args: string[]): Promise<string | null> => {
      const [a, b] = await pair.both(['lease', 'grant', ...args]);
      const id = (r: CliResult): string | null => {
        const out = text(r.stdout);
        const hex = /^lease ([0-9a-f]{16}) granted/.exec(out)?.[1];
        if (hex !== undefined) return hex;
        const dec = /"ID"\s?:\s?(\d+)/.exec(out)?.[1];
        return dec === undefined ? null : BigInt(dec).toString(16).padStart(16, '0');
      };
      const [idA, idB] = [id(a), id(b)];
      const name = idA !== null && idB !== null ? remember([idA, idB]) : null;
      compare(a, b, `lease grant ${args.join(' ')}`);
      return name;
    };
    /** leases granted without printing their ID (-w table, -w protobuf): found in `lease list`, paired in order */
    const discover = async (): Promise<string[]> => {
      const [a, b] = await pair.both(['lease', 'list']);
      const known = new Set(Object.values(vars).flat());
      const unknown = (r: CliResult): string[] => (text(r.stdout).match(/^[0-9a-f]{16}$/gm) ?? []).filter((id) => !known.has(id));
      const [ua, ub] = [unknown(a), unknown(b)];
      assert.equal(ua.length, ub.length, 'both sides have as many leases');
      return ua.map((ida, i) => remember([ida, ub[i]!]));
    };

    const long: string[] = [];
    await t.test('grant in every format; list', async () => {
      for (const w of FORMATS) {
        const l = await grant(['300', '-w', w]);
        if (l !== null) long.push(l);
      }
      long.push(...(await discover()));
      assert.equal(long.length, FORMATS.length);
      for (const w of FORMATS) await same(['lease', 'list', '-w', w]);
    });

    await t.test('grant: TTL edge cases and errors', async () => {
      for (const ttl of [['0'], ['1'], ['2'], ['9000000000'], ['--', '-5']]) {
        const l = await grant(ttl);
        assert.ok(l !== null, `lease grant ${ttl.join(' ')} granted a lease`);
        await same(['lease', 'revoke', `@${l}@`]);
      }
      for (const ttl of [['9000000001'], ['abc'], ['0x10'], [''], ['1.5'], ['99999999999999999999'], [], ['1', '2'], ['-5']]) {
        assert.equal(await grant(ttl), null, `lease grant ${ttl.join(' ')} fails`);
      }
    });

    await t.test('timetolive, with and without --keys, in every format', async () => {
      const l = (await grant(['300']))!;
      const remaining = (r: CliResult): number => {
        const m = /remaining\((\d+)s\)|"ttl":(\d+)|"TTL" : (\d+)/.exec(text(r.stdout));
        return m === null ? -1 : Number(m[1] ?? m[2] ?? m[3]);
      };
      // etcd truncates the seconds left: 299 (298 on a slow machine) just after granting 300, never 300
      for (const r of await pair.both(['lease', 'timetolive', `@${l}@`], { vars })) {
        assert.ok([299, 298].includes(remaining(r)), `remaining TTL ${remaining(r)} of a 300 s lease just granted`);
      }
      await same(['put', '--lease', `@${l}@`, 'lk/1', 'v']);
      await same(['get', 'lk/1', '-w', 'json']);
      for (const w of FORMATS) {
        for (const keys of [[], ['--keys']]) {
          const [a, b] = await pair.both(['lease', 'timetolive', `@${l}@`, ...keys, '-w', w], { vars });
          // the two sides ask at slightly different times: their remaining seconds may differ by one
          assert.ok(Math.abs(remaining(a) - remaining(b)) <= 1, `remaining TTLs ${remaining(a)} and ${remaining(b)}`);
          const mask = (r: CliResult): CliResult => ({
            ...r,
            stdout: Buffer.from(
              text(r.stdout).replace(/remaining\(\d+s\)/, 'remaining(<s>)').replace(/"ttl":\d+/, '"ttl":<s>').replace(/"TTL" : \d+/, '"TTL" : <s>'),
              'latin1',
            ),
          });
          compare(mask(a), mask(b), `lease timetolive ${keys.join(' ')} -w ${w}`);
        }
      }
      for (const w of FORMATS) await same(['lease', 'timetolive', '1234', '--keys', '-w', w], { label: `timetolive of no lease -w ${w}` });
      await same(['lease', 'timetolive', '--', '-1']);
      await same(['lease', 'timetolive']);
      await same(['lease', 'timetolive', 'zz']);
      await same(['lease', 'timetolive', 'zz', '-w', 'yaml'], { label: 'the output format is checked before the lease ID' });
    });

    await t.test('keep-alive --once in every format', async () => {
      const [, l2] = long;
      for (const w of FORMATS) await same(['lease', 'keep-alive', '--once', `@${l2}@`, '-w', w]);
      await same(['lease', 'keep-alive', '--once', '1234']);
      await same(['lease', 'keep-alive', '--once', '1234', '-w', 'json']);
      await same(['lease', 'keep-alive']);
      await same(['lease', 'keep-alive', 'zz']);
      await same(['lease', 'keep-alive', '1', '2']);
      // renewed last, so listed last: etcd lists leases by expiry
      await same(['lease', 'list']);
    });

    await t.test('keep-alive until the lease is revoked', async () => {
      const l = (await grant(['3']))!;
      const simple = pair.start(['lease', 'keep-alive', `@${l}@`], { vars });
      const json = pair.start(['lease', 'keep-alive', `@${l}@`, '-w', 'json'], { vars });
      const fields = pair.start(['lease', 'keep-alive', `@${l}@`, '-w', 'fields'], { vars });
      await simple.waitFor((out) => (out.match(/keepalived/g) ?? []).length >= 2);
      await json.waitFor((out) => (out.match(/"TTL":3/g) ?? []).length >= 2);
      await fields.waitFor((out) => (out.match(/"TTL" : 3/g) ?? []).length >= 2);
      await same(['lease', 'revoke', `@${l}@`]);
      for (const [r, label] of [[simple, 'keep-alive'], [json, 'keep-alive -w json'], [fields, 'keep-alive -w fields']] as const) {
        const [a, b] = await r.results();
        // how many renewals happened before the revoke depends on timing: runs of identical lines count once
        compare(a, b, label, { collapseRepeats: true });
      }
      await same(['lease', 'keep-alive', '1234'], { label: 'keep-alive of no lease' });
      await same(['lease', 'keep-alive', '1234', '-w', 'json'], { label: 'keep-alive -w json of no lease' });
      await pair.start(['lease', 'keep-alive', `@${long[2]}@`, '-w', 'table'], { vars }).same('keep-alive -w table');
    });

    await t.test('revoke in every format; put --lease; keys go with their lease', async () => {
      for (const w of FORMATS) {
        const l = (await grant(['100']))!;
        await same(['put', `lr/${w}`, 'v', `--lease=@${l}@`]);
        await same(['lease', 'revoke', `@${l}@`, '-w', w]);
        await same(['lease', 'revoke', `@${l}@`, '-w', w], { label: `revoke again -w ${w}` });
        await same(['get', `lr/${w}`, '-w', 'json']);
      }
      await same(['lease', 'revoke']);
      await same(['lease', 'revoke', '1', '2']);
      await same(['lease', 'revoke', 'xyz']);
      await same(['lease', 'revoke', '8000000000000000']);
      const l3 = long[3]!;
      await same(['put', 'lp/a', 'v', '--lease', `@${l3}@`, '--prev-kv', '-w', 'json']);
      await same(['put', 'lp/a', 'w', '--ignore-lease', '--prev-kv', '-w', 'fields']);
      await same(['get', 'lp/a', '-w', 'fields']);
      await same(['put', 'lp/b', 'v', '--lease', '1234']);
      await same(['lease', 'revoke', `@${l3}@`]);
      await same(['get', 'lp/', '--prefix', '-w', 'json']);
    });

    await t.test('help and unreachable endpoints', async () => {
      for (const args of [['lease'], ['lease', '--help'], ['lease', 'grant', '--help'], ['lease', 'keep-alive', '-h'], ['help', 'lease', 'timetolive'], ['lease', 'bogus']]) {
        await same(args);
      }
      const down = ['--endpoints', '127.0.0.1:1', '--command-timeout', '300ms', '--dial-timeout', '500ms'];
      const opts = { endpoint: 'none' as const };
      await same([...down, 'lease', 'grant', '10'], opts);
      await same([...down, 'lease', 'revoke', '10'], opts);
      await same([...down, 'lease', 'keep-alive', '10'], { ...opts, label: 'keep-alive gives up after dial timeout + 1 s' });
    });
  });
});
