#!/usr/bin/env node
// etcdctl-ts: etcdctl (v3 API, 3.4) for etcd-ts's binary protocol. See src/cli/etcdctl/.

import { main, rawArguments } from './etcdctl/index.js';

main(rawArguments()).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`etcdctl-ts: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(70);
  },
);
