// watch through etcdctl-ts and the real etcdctl, side by side: both are left running while the same writes go to both
// servers, then stopped with SIGTERM, and everything they printed (every output format), their exit codes and signals
// must agree. Watches start at an explicit revision and each write waits until every watch has printed it, so what
// is printed does not depend on timing: a watch that is slow to start catches up from history, one event per write
// either way. Exec-commands, interactive mode (-i), compaction and argument errors are compared too.

import { test } from 'node:test';
import { withPair, type CliResult, type RunningPair } from '../helpers/etcdctl.js';

const FORMATS = ['simple', 'json', 'fields', 'protobuf', 'table'];

function text(b: Buffer): string {
  return b.toString('latin1');
}

/** The header revision of a `-w json` answer. */
function revisionOf(r: CliResult): number {
  const m = /"revision":(\d+)/.exec(text(r.stdout));
  if (m === null) throw new Error(`no revision in ${text(r.stdout)}${text(r.stderr)}`);
  return Number(m[1]);
}

/** protobuf's varint of the cluster ID after its field tag: it starts every response header, so it counts them. */
function clusterIdMarker(r: CliResult): string {
  const m = /"cluster_id":(\d+)/.exec(text(r.stdout));
  if (m === null) throw new Error(`no cluster_id in ${text(r.stdout)}`);
  let v = BigInt(m[1]!);
  const bytes = [0x08];
  while (v >= 0x80n) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Buffer.from(bytes).toString('latin1');
}

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

interface Watch {
  running: RunningPair;
  format: string;
  /** events (simple) or responses (other formats) expected so far */
  expected: number;
}

/** How many events (simple) or responses a watch's output shows. */
function printed(w: Watch, out: string, side: 0 | 1, markers: [string, string]): number {
  switch (w.format) {
    case 'simple':
      return (out.match(/^(PUT|DELETE)$/gm) ?? []).length;
    case 'json':
      return count(out, '{"Header":');
    case 'fields':
      return count(out, '"ClusterID" :');
    case 'protobuf':
      return count(out, markers[side]);
    default:
      return out.includes('not supported as output format') ? w.expected : 0;
  }
}

test('watch agrees with etcdctl', { timeout: 150_000 }, async (t) => {
  await withPair(t, async (pair) => {
    const same = pair.same.bind(pair);
    const [initReal, initTs] = await pair.both(['put', 'w/init', 'x', '-w', 'json']);
    const markers: [string, string] = [clusterIdMarker(initReal), clusterIdMarker(initTs)];
    const start = revisionOf(initReal) + 1;

    /** the revision the next write gets (both servers are kept at the same revision) */
    const nextRevision = async (): Promise<number> => revisionOf((await pair.both(['get', 'w/init', '-w', 'json']))[0]) + 1;
    const waitAll = async (watches: Watch[]): Promise<void> => {
      for (const w of watches) {
        await w.running.waitFor((out, side) => printed(w, out, side, markers) >= w.expected);
      }
    };
    const stopAll = async (watches: Watch[], label: string): Promise<void> => {
      // a table watch exits by itself (4) right after printing its refusal: a signal then would race with that exit
      for (const w of watches) if (w.format !== 'table') w.running.signal('SIGTERM');
      for (const w of watches) await w.running.same(`${label} -w ${w.format}`);
    };

    await t.test('events as they happen, in every format', async () => {
      const rev = String(start);
      const watches: Watch[] = FORMATS.map((format) => ({
        running: pair.start(['watch', 'wf/', '--prefix', '--prev-kv', '--rev', rev, '-w', format]),
        format,
        expected: 0,
      }));
      const ranged: Watch = { running: pair.start(['watch', 'wf/a', 'wf/c', '--rev', rev]), format: 'simple', expected: 0 };
      const hex: Watch = { running: pair.start(['watch', 'wf/b', '--rev', rev, '--hex']), format: 'simple', expected: 0 };
      const all = [...watches, ranged, hex];
      // each write: what it adds to the prefix watches (events, responses), the range [wf/a, wf/c) and wf/b
      const rounds: [() => Promise<unknown>, number, number, number][] = [
        [() => same(['put', 'wf/a', '1']), 1, 1, 0],
        [() => same(['put', 'wf/a', '2']), 1, 1, 0],
        [() => same(['del', 'wf/a']), 1, 1, 0],
        [() => same(['txn'], { stdin: '\nput wf/b x\nput wf/c y\n\n\n' }), 2, 1, 1],
        [() => same(['put', 'wf/b', Buffer.from([0xff, 0x22, 0x0a, 0x41])]), 1, 1, 1],
        [() => same(['del', 'wf/', '--prefix']), 2, 1, 1],
        [() => same(['put', 'wf/zz', 'outside the range']), 1, 0, 0],
      ];
      for (const [write, events, inRange, onB] of rounds) {
        await write();
        for (const w of watches) w.expected += w.format === 'simple' ? events : 1;
        ranged.expected += inRange;
        hex.expected += onB;
        await waitAll(all);
      }
      await stopAll(watches, 'watch wf/ --prefix --prev-kv');
      await stopAll([ranged], 'watch wf/a wf/c');
      await stopAll([hex], 'watch wf/b --hex');
    });

    await t.test('history from a past revision, in every format', async () => {
      const watches: Watch[] = FORMATS.map((format) => ({
        running: pair.start(['watch', 'wf/', '--prefix', '--prev-kv', '--rev', String(start), '-w', format]),
        format,
        // all history in one response (simple: its 9 events)
        expected: format === 'simple' ? 9 : 1,
      }));
      const middle: Watch = { running: pair.start(['watch', 'wf/', '--prefix', '--rev', String(start + 3)]), format: 'simple', expected: 6 };
      await waitAll([...watches, middle]);
      await stopAll(watches, 'watch wf/ --prefix --prev-kv --rev (history)');
      await stopAll([middle], 'watch from the middle of history');
    });

    await t.test('exec-command per event', async () => {
      const rev = String(await nextRevision());
      const show = ['--', 'sh', '-c', 'echo "rev=$ETCD_WATCH_REVISION type=$ETCD_WATCH_EVENT_TYPE key=$ETCD_WATCH_KEY value=$ETCD_WATCH_VALUE"'];
      const exec: Watch = { running: pair.start(['watch', 'wx', '--rev', rev, ...show]), format: 'simple', expected: 0 };
      const viaEnv: Watch = {
        running: pair.start(['watch', '--rev', rev, '--', 'echo', 'from env'], { env: { ETCDCTL_WATCH_KEY: 'wx' } }),
        format: 'simple',
        expected: 0,
      };
      const failing = pair.start(['watch', 'wx', '--rev', rev, '--', 'sh', '-c', 'exit 3']);
      const missing = pair.start(['watch', 'wx', '--rev', rev, '--', 'no-such-command-here']);
      await same(['put', 'wx', 'he"llo\tworld']);
      exec.expected = viaEnv.expected = 1;
      await waitAll([exec, viaEnv]);
      await failing.same('watch wx -- sh -c "exit 3"');
      await missing.same('watch wx -- no-such-command-here');
      await same(['del', 'wx']);
      exec.expected = viaEnv.expected = 2;
      await waitAll([exec, viaEnv]);
      await exec.running.waitFor((out) => count(out, 'rev=') === 2);
      await viaEnv.running.waitFor((out) => count(out, 'from env') === 2);
      await stopAll([exec], 'watch wx -- sh -c ...');
      await stopAll([viaEnv], 'ETCDCTL_WATCH_KEY=wx watch -- echo');
    });

    await t.test('interactive mode', async () => {
      const r = pair.start(['watch', '-i']);
      const lines = async (input: string, ready: (out: string) => boolean): Promise<void> => {
        r.write(input);
        await r.waitFor(ready);
      };
      await lines('watch i1\n', () => true);
      await lines('\n', (out) => out.includes('watch and progress supported'));
      await lines('bogus x\n', (out) => out.includes('only support watch'));
      await lines('watch\n', (out) => out.includes('key is not provided'));
      await lines('watch a b --prefix\n', (out) => out.includes('mutually exclusive'));
      await lines('watch "i2" --prev-kv\n', () => true);
      await lines('watch i3 -- echo ran for i3\n', () => true);
      // every watch created so far answers a progress request
      await lines('progress\n', (out) => count(out, 'progress notify:') === 3);
      await same(['put', 'i1', 'v1']);
      await r.waitFor((out) => count(out, 'v1') === 1);
      await same(['put', 'i2', 'v2']);
      await same(['put', 'i2', 'v3']);
      await r.waitFor((out) => count(out, 'v3') === 1);
      await same(['put', 'i3', 'v4']);
      await r.waitFor((out) => out.includes('ran for i3'));
      await lines('watch i4 i0\n', (out) => out.includes('watcher range is empty'));
      r.endInput();
      await r.same('watch -i');

      const fatal = pair.start(['watch', '-i']);
      fatal.write('watch i1\nwatch x --bogus\n');
      await fatal.same('watch -i: a line with an unknown flag');
      const separator = pair.start(['watch', '-i']);
      separator.write('watch a --\n');
      await separator.same('watch -i: a line ending in --');
    });

    await t.test('compaction cancels a watch, in every format', async () => {
      await same(['compaction', String(start + 5)]);
      for (const w of FORMATS) {
        await same(['watch', 'wf/', '--prefix', '--rev', String(start), '-w', w], { timeoutMs: 15_000 });
        await same(['watch', 'wf/', '--prefix', '--rev=-1', '-w', w], { timeoutMs: 15_000 });
      }
    });

    await t.test('arguments, flags and environment errors', async () => {
      for (const w of ['simple', 'json', 'protobuf']) {
        await same(['watch', 'wf/b', 'wf/a', '-w', w], { label: `an empty range -w ${w}` });
      }
      for (const args of [
        ['watch'],
        ['watch', '--prefix'],
        ['watch', 'a', 'b', '--prefix'],
        ['watch', 'a', '--'],
        ['watch', '--rev', 'x', 'a'],
        ['watch', 'a', '--progress-notify'],
        ['watch', '--help'],
        ['wat', '--', 'echo'],
      ]) {
        await same(args);
      }
      await same(['watch', 'a'], { env: { ETCDCTL_WATCH_KEY: 'k' } });
      await same(['watch', 'a', '--', 'echo'], { env: { ETCDCTL_WATCH_KEY: 'k' } });
      await same(['watch'], { env: { ETCDCTL_WATCH_RANGE_END: 'z' } });
      await same(['watch', '--prefix', '--debug'], { norm: { debug: true }, label: 'watch --debug lists ETCDCTL_WATCH_KEY and _RANGE_END' });
      await same(['watch', '-i'], { stdin: 'watch k\n', label: 'watch -i whose input ends' });
      await same(['watch', '-i'], { stdin: 'watch k', label: 'watch -i whose last line has no newline' });
    });
  });
});
