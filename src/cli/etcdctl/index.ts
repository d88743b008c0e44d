// etcdctl-ts: etcdctl 3.4's command line over etcd-ts's client, byte for byte. main.ts runs it; commands/ holds the
// commands, printers/ the -w output formats; cobra's and pflag's behaviour are command.ts and flags.ts, and Go's
// standard library behaviour comes from src/gocompat.

export { main, rawArguments } from './main.js';
