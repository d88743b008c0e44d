// The real etcdctl 3.4 side by side against a real etcd 3.4 and etcd-ts's gRPC port: one pair of servers per test,
// `same` runs a command line on both and asserts stdout, stderr and the exit code agree (test/helpers/etcdctl.ts
// normalises ids, durations and sizes).

import type { TestContext } from 'node:test';
import { GrpcServer } from '../../src/grpc/index.js';
import { startRealEtcd, freePort, type RealEtcd } from './etcd.js';
import { assertSame, etcdctlAvailable, runEtcdctl, type CliResult, type Normalise, type RunOptions } from './etcdctl.js';
import { startGrpcMember, type GrpcMember } from './grpc.js';

export interface EtcdctlSides {
  real: RealEtcd;
  ts: GrpcMember;
  /** runs `etcdctl --endpoints <side> ...args` on both sides (etcd-ts: `tsArgs` when given) and asserts they agree */
  same(args: string[], norm?: Omit<Normalise, 'endpoints'>, opts?: RunOptions & { tsArgs?: string[] }): Promise<[CliResult, CliResult]>;
}

/** Both servers started with `flags`, stopped with the test; null (the test skipped) without etcd and etcdctl. */
export async function etcdctlSides(t: TestContext, flags: string[] = []): Promise<EtcdctlSides | null> {
  if (!etcdctlAvailable()) {
    t.skip('etcd and etcdctl are not installed');
    return null;
  }
  // etcd-ts advertises its gRPC URL as its client URL, as etcd does, so that member lists agree
  const port = await freePort();
  const [real, ts] = await Promise.all([startRealEtcd(flags), startGrpcMemberOn(port, flags)]);
  t.after(async () => {
    await Promise.all([real.stop(), ts.close()]);
  });
  const endpoints: [string, string] = [real.endpoint, ts.endpoint];
  return {
    real,
    ts,
    async same(args, norm = {}, opts = {}) {
      const [a, b] = await Promise.all([
        runEtcdctl(['--endpoints', real.endpoint, ...args], opts),
        runEtcdctl(['--endpoints', ts.endpoint, ...(opts.tsArgs ?? args)], opts),
      ]);
      assertSame(a, b, { ...norm, endpoints }, args.join(' '));
      return [a, b];
    },
  };
}

/** An etcd-ts member whose gRPC listener is on the port it advertises (member lists agree with etcd's). */
async function startGrpcMemberOn(port: number, flags: string[]): Promise<GrpcMember> {
  const m = await startGrpcMember(['--advertise-client-urls', `http://127.0.0.1:${port}`, ...flags]);
  await m.grpc.close();
  // listen again on the advertised port (the helper's listener was on an ephemeral one)
  const server = new GrpcServer({ server: m.member.member.server, limits: m.member.member.server.config.limits });
  await server.listen([`http://127.0.0.1:${port}`]);
  return { ...m, grpc: server, endpoint: `127.0.0.1:${port}`, close: async () => { await server.close(); await m.member.close(); } };
}
