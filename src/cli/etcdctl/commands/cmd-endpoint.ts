// endpoint health and endpoint status: each endpoint of --endpoints on its own connection.

import { EtcdError, type Member, type StatusResponse } from '../../../client/index.js';
import { Command } from '../command.js';
import { clientErrorText, LoginFailed } from '../connection.js';
import { setFlagsFromEnv } from '../env.js';
import { boolFlag } from '../flags.js';
import {
  checkAuthFlags,
  checkTlsFlags,
  clientConfigFromCmd,
  commandDeadline,
  connect,
  currentDisplay,
  endpointsFromCmd,
  getBool,
  getDuration,
  getStringSlice,
  initDisplayFromCmd,
} from '../global.js';
import { type ByteString, formatDuration, utf8ToByteString } from '../../../gocompat/index.js';
import { CliExit, ExitCode, exitWithError, stderr } from '../output.js';
import type { EndpointHealth, EndpointStatus } from '../printers/index.js';

/**
 * endpointsFromCluster: --endpoints as given (untrimmed), or with --cluster every member's client URLs from MemberList,
 * asked of --endpoints without authentication. etcd-ts members advertise --advertise-client-urls there, their client
 * port, which serves the binary protocol too (src/frontend).
 */
async function endpointsFromCluster(cmd: Command): Promise<ByteString[]> {
  if (!getBool(cmd, 'cluster')) return getStringSlice(cmd, 'endpoints');
  checkTlsFlags(cmd);
  const dialTimeoutNs = getDuration(cmd, 'dial-timeout');
  const eps = endpointsFromCmd(cmd);
  if (eps.length === 0) exitWithError(ExitCode.Error, 'etcdclient: no available endpoints');
  // without the credentials: MemberList needs none, and etcdctl does not ask for a password it does not need
  const conn = connect(eps, dialTimeoutNs, cmd, null);
  const deadline = commandDeadline(cmd);
  let members: Member[];
  try {
    members = (await conn.request((c) => c.call('MemberList', {}), deadline, true)).members ?? [];
  } catch (err) {
    return exitWithError(ExitCode.Error, `failed to fetch endpoints from etcd cluster member list: ${clientErrorText(err)}`);
  } finally {
    conn.close();
  }
  return members.flatMap((m) => (m.clientURLs ?? []).map(utf8ToByteString));
}

async function health(cmd: Command): Promise<void> {
  setFlagsFromEnv('ETCDCTL', cmd.inheritedFlags());
  initDisplayFromCmd(cmd);
  checkTlsFlags(cmd);
  const dialTimeoutNs = getDuration(cmd, 'dial-timeout');
  checkAuthFlags(cmd);
  const endpoints = await endpointsFromCluster(cmd);
  const results: EndpointHealth[] = [];
  await Promise.all(
    endpoints.map(async (endpoint) => {
      const conn = connect([endpoint], dialTimeoutNs, cmd);
      // a client that cannot log in is that endpoint's failure (v3.New's error), not the command's
      conn.loginFailureEndsCommand = false;
      const start = process.hrtime.bigint();
      const deadline = commandDeadline(cmd);
      let error = '';
      let loginFailed = false;
      try {
        await conn.request((c) => c.get('health'), deadline, true);
      } catch (err) {
        loginFailed = err instanceof LoginFailed;
        // etcdctl's health check: a permission denied still proves the member answers
        if (!(err instanceof EtcdError && err.name === 'PermissionDenied')) error = clientErrorText(err);
      } finally {
        conn.close();
      }
      // no time taken when the client could not even be made
      const took = loginFailed ? '' : formatDuration(process.hrtime.bigint() - start);
      results.push({ endpoint, health: error === '', took, error });
    }),
  );
  currentDisplay().endpointHealth(results);
  if (results.some((h) => h.error !== '')) exitWithError(ExitCode.Error, 'unhealthy cluster');
}

async function status(cmd: Command): Promise<void> {
  const cfg = clientConfigFromCmd(cmd);
  // mustClientFromCmd: with --user the client logs in on --endpoints first, and a refused login ends the command;
  // after that, a status request's failure (its own login included) is that endpoint's
  const client = connect(cfg.endpoints, cfg.dialTimeoutNs, cmd);
  await client.open();
  client.close();
  const list: EndpointStatus[] = [];
  let failed = false;
  for (const endpoint of await endpointsFromCluster(cmd)) {
    const conn = connect([endpoint], cfg.dialTimeoutNs, cmd);
    conn.loginFailureEndsCommand = false;
    const deadline = commandDeadline(cmd);
    try {
      const s: StatusResponse = await conn.request((c) => c.status(), deadline, true);
      list.push({ endpoint, status: s });
    } catch (err) {
      failed = true;
      stderr(`Failed to get the status of endpoint ${endpoint} (${clientErrorText(err)})\n`);
    } finally {
      conn.close();
    }
  }
  currentDisplay().endpointStatus(list);
  if (failed) throw new CliExit(ExitCode.Error);
}

export function endpointCommand(): Command {
  const ec = new Command({
    use: 'endpoint <subcommand>',
    short: 'Endpoint related commands',
    persistentFlags: [boolFlag('cluster', '', false, 'use all endpoints from the cluster member list')],
  });
  ec.addCommand(
    new Command({
      use: 'health',
      short: 'Checks the healthiness of endpoints specified in `--endpoints` flag',
      run: health,
    }),
    new Command({
      use: 'status',
      short: 'Prints out the status of endpoints specified in `--endpoints` flag',
      long: `When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are endpoint, ID, version, db size, is leader, is learner, raft term, raft index, raft applied index, errors.
`,
      run: status,
    }),
    new Command({
      use: 'hashkv',
      short: 'Prints the KV history hash for each endpoint in --endpoints',
      unlisted: true,
      run: () => exitWithError(ExitCode.Error, 'etcdctl-ts does not implement "endpoint hashkv" (the etcd-ts binary protocol has no HashKV)'),
    }),
  );
  return ec;
}
