#!/bin/bash
# usage: scripts/bench-security.sh ts|etcd put|range|range-l plain|auth|tls [total] -> rate, p99, server CPU per request
# etcd's own benchmark tool (../shared/tools/etcd-benchmark, built to $ETCD_BENCHMARK, default /tmp/etcd-benchmark)
# against one etcd-ts member (npm run build first) or one real etcd, on 127.0.0.1:23790, 8 connections, 64 clients.
# Certificates for tls: the openssl recipe of the TLS tests (CA, server cert with IP SAN 127.0.0.1, client cert with
# CN root) in $SECBENCH_CERTS (default /tmp/secbench-certs: ca.crt, server.crt/key, client.crt/key).
# auth: root user + auth enabled, the benchmark logs in as root (simple token); tls: https client URL with
# --client-cert-auth and a CA (certs in /tmp/secbench-certs), the benchmark with --cacert/--cert/--key.
set -e
target=$1; wl=$2; mode=$3; total=${4:-40000}
C=${SECBENCH_CERTS:-/tmp/secbench-certs}
root=$(mktemp -d /tmp/sb-XXXX)
scheme=http; tlsflags=; ctlflags=; benchflags=
if [ "$mode" = tls ]; then
  scheme=https
  tlsflags="--cert-file=$C/server.crt --key-file=$C/server.key --client-cert-auth --trusted-ca-file=$C/ca.crt"
  ctlflags="--cacert=$C/ca.crt --cert=$C/client.crt --key=$C/client.key"
  benchflags="$ctlflags"
fi
if [ "$target" = ts ]; then
  node "$(dirname "$0")/../dist/src/cli/etcd-ts.js" --data-dir $root/d --listen-client-urls $scheme://127.0.0.1:23790 --advertise-client-urls $scheme://127.0.0.1:23790 --listen-client-binary-urls http://127.0.0.1:23788 $tlsflags >$root/log 2>&1 &
else
  etcd --data-dir $root/d --listen-client-urls $scheme://127.0.0.1:23790 --advertise-client-urls $scheme://127.0.0.1:23790 --listen-peer-urls http://127.0.0.1:23800 $tlsflags >$root/log 2>&1 &
fi
pid=$!
E="--endpoints=127.0.0.1:23790"
for i in $(seq 1 100); do ETCDCTL_API=3 etcdctl $E $ctlflags endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
ctl() { ETCDCTL_API=3 etcdctl $E $ctlflags "$@"; }
if [ "$mode" = auth ]; then
  ctl user add root:rootpw >/dev/null; ctl auth enable >/dev/null 2>&1
  ctlflags="$ctlflags --user=root:rootpw"; benchflags="--user=root:rootpw"
fi
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
B=${ETCD_BENCHMARK:-/tmp/etcd-benchmark}
case $wl in
  put) args="put --total=$total --val-size=256 --key-space-size=10000" ;;
  range) ctl put foo $(head -c 256 /dev/zero | tr '\0' v) >/dev/null; args="range foo --consistency=s --total=$((total*3))" ;;
  range-l) ctl put foo $(head -c 256 /dev/zero | tr '\0' v) >/dev/null; args="range foo --consistency=l --total=$total" ;;
esac
c0=$(cpu)
out=$($B $E $benchflags --conns=8 --clients=64 $args 2>&1)
errs=$(echo "$out" | grep -ci error || true)
c1=$(cpu)
ticks=$(getconf CLK_TCK)
reqs=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
cpus=$(echo "($c1-$c0)/$ticks" | bc -l)
n=$total; [ "$wl" = range ] && n=$((total*3))
echo "== $target $wl $mode: $reqs req/s, $(echo "$out" | awk '/99%/ {print "p99 " $3 " s"}' | head -1), server CPU $(echo "$cpus" | cut -c1-6) s = $(echo "$cpus*1000000/$n" | bc -l | cut -c1-6) us/req, error lines $errs"
kill $pid; wait $pid 2>/dev/null || true
rm -rf $root
