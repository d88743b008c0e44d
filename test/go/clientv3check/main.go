// clientv3check runs a scripted scenario through etcd's own Go client (clientv3 and clientv3/concurrency, etcd 3.4)
// against one endpoint and prints one JSON line per step: what it called and what came back (headers, kvs with base64
// keys and values, counts, succeeded, lease and member IDs as hex, error text exactly as clientv3 gives it).
// test/grpc/go-clientv3.test.ts runs it against a real etcd and against etcd-ts and compares the two outputs.
//
// The scenario runs on a fresh store, so every revision it prints is the same on any server that behaves as etcd: the
// concurrent parts (writers, STM workers) give each goroutine its own keys, so how many revisions they make does not
// depend on the interleaving, only which revision each write got. Lines whose content depends on scheduling carry
// "concurrent": true (their revisions are not comparable; the rest is), and watch responses carry "watch": true (how
// events are batched into responses is not comparable; the events are).
//
// Build (GOPATH mode with Debian's golang-go and golang-etcd-server-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o /tmp/clientv3check ./test/go/clientv3check
//
// Usage: clientv3check -endpoints 127.0.0.1:2379 -max-request-bytes 65536 (the server's --max-request-bytes)
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/clientv3/concurrency"
	"go.etcd.io/etcd/etcdserver/api/v3rpc/rpctypes"
	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
	"go.etcd.io/etcd/mvcc/mvccpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

type line map[string]interface{}

var (
	outMu sync.Mutex
	out   = json.NewEncoder(os.Stdout)
	// how long one call may take before its step records the context's error and the scenario moves on
	callTimeout = 10 * time.Second
	// steps (of the main goroutine) whose call timed out, in a row; at timeoutsToGiveUp the program stops
	timeoutsInARow   = 0
	timeoutsToGiveUp = 3
)

func emit(l line) {
	outMu.Lock()
	defer outMu.Unlock()
	if err := out.Encode(l); err != nil {
		fmt.Fprintln(os.Stderr, "encode:", err)
		os.Exit(3)
	}
}

// ---- conversions of clientv3's responses ---------------------------------------------------------------------------

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// hexID prints a lease or member ID as clientv3's concurrency package writes it into keys (%x).
func hexID(v int64) string { return strconv.FormatUint(uint64(v), 16) }

func header(h *pb.ResponseHeader) line {
	if h == nil {
		return nil
	}
	return line{"cluster_id": strconv.FormatUint(h.ClusterId, 16), "member_id": strconv.FormatUint(h.MemberId, 16), "revision": h.Revision, "raft_term": h.RaftTerm}
}

func kv(k *mvccpb.KeyValue) line {
	if k == nil {
		return nil
	}
	return line{"key": b64(k.Key), "value": b64(k.Value), "create_revision": k.CreateRevision, "mod_revision": k.ModRevision, "version": k.Version, "lease": hexID(k.Lease)}
}

func kvs(list []*mvccpb.KeyValue) []line {
	res := []line{}
	for _, k := range list {
		res = append(res, kv(k))
	}
	return res
}

func rangeResp(r *pb.RangeResponse) line {
	return line{"header": header(r.Header), "kvs": kvs(r.Kvs), "more": r.More, "count": r.Count}
}

func putResp(r *pb.PutResponse) line {
	l := line{"header": header(r.Header)}
	if r.PrevKv != nil {
		l["prev_kv"] = kv(r.PrevKv)
	}
	return l
}

func deleteResp(r *pb.DeleteRangeResponse) line {
	return line{"header": header(r.Header), "deleted": r.Deleted, "prev_kvs": kvs(r.PrevKvs)}
}

func txnResp(r *pb.TxnResponse) line {
	ops := []line{}
	for _, op := range r.Responses {
		switch {
		case op.GetResponseRange() != nil:
			ops = append(ops, line{"range": rangeResp(op.GetResponseRange())})
		case op.GetResponsePut() != nil:
			ops = append(ops, line{"put": putResp(op.GetResponsePut())})
		case op.GetResponseDeleteRange() != nil:
			ops = append(ops, line{"delete_range": deleteResp(op.GetResponseDeleteRange())})
		case op.GetResponseTxn() != nil:
			ops = append(ops, line{"txn": txnResp(op.GetResponseTxn())})
		default:
			ops = append(ops, line{"unknown": fmt.Sprintf("%T", op.Response)})
		}
	}
	return line{"header": header(r.Header), "succeeded": r.Succeeded, "responses": ops}
}

func watchResp(wr clientv3.WatchResponse) line {
	events := []line{}
	for _, ev := range wr.Events {
		e := line{"type": ev.Type.String(), "kv": kv(ev.Kv)}
		if ev.PrevKv != nil {
			e["prev_kv"] = kv(ev.PrevKv)
		}
		events = append(events, e)
	}
	l := line{"header": header(&wr.Header), "events": events, "created": wr.Created, "canceled": wr.Canceled, "compact_revision": wr.CompactRevision, "progress_notify": wr.IsProgressNotify()}
	if err := wr.Err(); err != nil {
		setErr(l, err)
	}
	return l
}

// setErr records an error's text as clientv3 gives it and, when it carries one, its gRPC status code: clientv3 turns
// etcd's errors into rpctypes.EtcdError (code and description), others stay gRPC status errors or plain errors.
func setErr(l line, err error) {
	l["err"] = err.Error()
	if e, ok := err.(rpctypes.EtcdError); ok {
		l["code"] = e.Code().String()
	} else if s, ok := status.FromError(err); ok {
		l["code"] = s.Code().String()
	}
}

// ---- steps ---------------------------------------------------------------------------------------------------------

// step runs one call with its own deadline and prints its outcome; it returns whether the call succeeded.
func step(name, call string, fn func(ctx context.Context) (interface{}, error)) bool {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	res, err := fn(ctx)
	l := line{"step": name, "call": call}
	if err != nil {
		setErr(l, err)
	} else {
		l["resp"] = res
	}
	emit(l)
	if ctx.Err() == context.DeadlineExceeded {
		timeoutsInARow++
	} else {
		timeoutsInARow = 0
	}
	if timeoutsInARow == timeoutsToGiveUp {
		emit(line{"step": "fatal", "err": fmt.Sprintf("%d calls in a row timed out: the server does not answer", timeoutsToGiveUp)})
		os.Exit(2)
	}
	return err == nil
}

// ready waits until a gRPC connection is up (HTTP/2 established) or ctx ends.
func ready(ctx context.Context, conn *grpc.ClientConn) error {
	for {
		state := conn.GetState()
		if state == connectivity.Ready {
			return nil
		}
		if !conn.WaitForStateChange(ctx, state) {
			return fmt.Errorf("connection not ready (%s): %v", state, ctx.Err())
		}
	}
}

// note prints a line that records an observation of the scenario itself (an order of events, a count).
func note(name string, fields line) {
	l := line{"step": name}
	for k, v := range fields {
		l[k] = v
	}
	emit(l)
}

// waitUntil polls cond until it holds or the call timeout passes.
func waitUntil(cond func() bool) bool {
	deadline := time.Now().Add(callTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated gRPC endpoints")
	maxRequestBytes := flag.Int("max-request-bytes", 65536, "the server's --max-request-bytes (sizes the too-large requests)")
	timeout := flag.Duration("timeout", 180*time.Second, "the whole scenario's limit; past it the program prints a fatal line and exits 2")
	flag.Parse()
	time.AfterFunc(*timeout, func() {
		emit(line{"step": "fatal", "err": "scenario timed out after " + timeout.String()})
		os.Exit(2)
	})

	eps := strings.Split(*endpoints, ",")
	newClient := func() (*clientv3.Client, error) {
		return clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
	}
	var c, c2 *clientv3.Client
	// clientv3.New does not wait for the connection; waiting for it here makes a server that does not speak gRPC fail
	// this one step at once instead of every later call after its timeout
	ok := step("connect", "clientv3.New(DialTimeout: 5s) twice, then wait for both connections to be ready", func(ctx context.Context) (interface{}, error) {
		var err error
		if c, err = newClient(); err != nil {
			return nil, err
		}
		if c2, err = newClient(); err != nil {
			return nil, err
		}
		for _, client := range []*clientv3.Client{c, c2} {
			if err := ready(ctx, client.ActiveConnection()); err != nil {
				return nil, err
			}
		}
		return line{"endpoints": c.Endpoints()}, nil
	})
	if !ok {
		os.Exit(1)
	}
	defer c.Close()
	defer c2.Close()

	kvScenario(c, *maxRequestBytes)
	compactionScenario(c)
	leaseScenario(c)
	watchScenario(c, c2)
	clusterScenario(c, eps[0])
	lockScenario(c, c2)
	electionScenario(c, c2)
	stmScenario(c, c2)
	// below the minimum TTL the server raises it; last, so that the lease expires after the scenario, whatever the
	// machine's load
	grant(c, "lease.grant-below-minimum", 1)
	note("done", line{})
}

// ---- KV ------------------------------------------------------------------------------------------------------------

func get(c *clientv3.Client, name, call, key string, opts ...clientv3.OpOption) {
	step(name, call, func(ctx context.Context) (interface{}, error) {
		r, err := c.Get(ctx, key, opts...)
		if err != nil {
			return nil, err
		}
		return rangeResp((*pb.RangeResponse)(r)), nil
	})
}

func put(c *clientv3.Client, name, call, key, value string, opts ...clientv3.OpOption) {
	step(name, call, func(ctx context.Context) (interface{}, error) {
		r, err := c.Put(ctx, key, value, opts...)
		if err != nil {
			return nil, err
		}
		return putResp((*pb.PutResponse)(r)), nil
	})
}

func del(c *clientv3.Client, name, call, key string, opts ...clientv3.OpOption) {
	step(name, call, func(ctx context.Context) (interface{}, error) {
		r, err := c.Delete(ctx, key, opts...)
		if err != nil {
			return nil, err
		}
		return deleteResp((*pb.DeleteRangeResponse)(r)), nil
	})
}

func txn(c *clientv3.Client, name, call string, cmps []clientv3.Cmp, then []clientv3.Op, els []clientv3.Op) {
	step(name, call, func(ctx context.Context) (interface{}, error) {
		r, err := c.Txn(ctx).If(cmps...).Then(then...).Else(els...).Commit()
		if err != nil {
			return nil, err
		}
		return txnResp((*pb.TxnResponse)(r)), nil
	})
}

func kvScenario(c *clientv3.Client, maxRequestBytes int) {
	put(c, "put.first", `Put("k/a", "1", WithPrevKV())`, "k/a", "1", clientv3.WithPrevKV())
	put(c, "put.overwrite", `Put("k/a", "2", WithPrevKV())`, "k/a", "2", clientv3.WithPrevKV())
	put(c, "put.b", `Put("k/b", "b1")`, "k/b", "b1")
	put(c, "put.c", `Put("k/c", "c1")`, "k/c", "c1")
	put(c, "put.binary", `Put("k/\xfe\x00", "\x00\xff\x80")`, "k/\xfe\x00", "\x00\xff\x80")
	put(c, "put.empty-value", `Put("k/e", "")`, "k/e", "")
	put(c, "put.b-again", `Put("k/b", "b2", WithPrevKV())`, "k/b", "b2", clientv3.WithPrevKV())
	put(c, "put.d", `Put("k/d", "a-value")`, "k/d", "a-value")

	get(c, "get.key", `Get("k/a")`, "k/a")
	get(c, "get.missing", `Get("k/missing")`, "k/missing")
	get(c, "get.prefix", `Get("k/", WithPrefix())`, "k/", clientv3.WithPrefix())
	get(c, "get.limit", `Get("k/", WithPrefix(), WithLimit(2))`, "k/", clientv3.WithPrefix(), clientv3.WithLimit(2))
	get(c, "get.sort-key-desc", `Get("k/", WithPrefix(), WithSort(SortByKey, SortDescend))`, "k/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
	get(c, "get.sort-value-asc", `Get("k/", WithPrefix(), WithSort(SortByValue, SortAscend))`, "k/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByValue, clientv3.SortAscend))
	get(c, "get.sort-version-desc", `Get("k/", WithPrefix(), WithSort(SortByVersion, SortDescend))`, "k/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByVersion, clientv3.SortDescend))
	get(c, "get.sort-create-limit", `Get("k/", WithPrefix(), WithSort(SortByCreateRevision, SortAscend), WithLimit(3))`, "k/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend), clientv3.WithLimit(3))
	get(c, "get.sort-mod-desc-limit", `Get("k/", WithPrefix(), WithSort(SortByModRevision, SortDescend), WithLimit(2))`, "k/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortDescend), clientv3.WithLimit(2))
	get(c, "get.last-create", `Get("k/", WithLastCreate()...)`, "k/", clientv3.WithLastCreate()...)
	get(c, "get.serializable", `Get("k/a", WithSerializable())`, "k/a", clientv3.WithSerializable())
	get(c, "get.serializable-prefix", `Get("k/", WithPrefix(), WithSerializable())`, "k/", clientv3.WithPrefix(), clientv3.WithSerializable())
	get(c, "get.at-revision", `Get("k/a", WithRev(2))`, "k/a", clientv3.WithRev(2))
	get(c, "get.prefix-at-revision", `Get("k/", WithPrefix(), WithRev(4))`, "k/", clientv3.WithPrefix(), clientv3.WithRev(4))
	get(c, "get.keys-only", `Get("k/", WithPrefix(), WithKeysOnly())`, "k/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	get(c, "get.count-only", `Get("k/", WithPrefix(), WithCountOnly())`, "k/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	get(c, "get.count-only-limit", `Get("k/", WithPrefix(), WithCountOnly(), WithLimit(1))`, "k/", clientv3.WithPrefix(), clientv3.WithCountOnly(), clientv3.WithLimit(1))
	get(c, "get.from-key", `Get("k/c", WithFromKey())`, "k/c", clientv3.WithFromKey())
	get(c, "get.range", `Get("k/b", WithRange("k/d"))`, "k/b", clientv3.WithRange("k/d"))
	get(c, "get.min-mod", `Get("k/", WithPrefix(), WithMinModRev(5))`, "k/", clientv3.WithPrefix(), clientv3.WithMinModRev(5))
	get(c, "get.max-mod", `Get("k/", WithPrefix(), WithMaxModRev(4))`, "k/", clientv3.WithPrefix(), clientv3.WithMaxModRev(4))
	get(c, "get.min-create", `Get("k/", WithPrefix(), WithMinCreateRev(5))`, "k/", clientv3.WithPrefix(), clientv3.WithMinCreateRev(5))
	get(c, "get.max-create", `Get("k/", WithPrefix(), WithMaxCreateRev(3))`, "k/", clientv3.WithPrefix(), clientv3.WithMaxCreateRev(3))
	get(c, "get.future-revision", `Get("k/a", WithRev(100000))`, "k/a", clientv3.WithRev(100000))
	get(c, "get.empty-key", `Get("")`, "")

	put(c, "put.ignore-value", `Put("k/a", "", WithIgnoreValue(), WithPrevKV())`, "k/a", "", clientv3.WithIgnoreValue(), clientv3.WithPrevKV())
	get(c, "get.after-ignore-value", `Get("k/a")`, "k/a")
	put(c, "put.ignore-value-missing", `Put("k/none", "", WithIgnoreValue())`, "k/none", "", clientv3.WithIgnoreValue())
	put(c, "put.ignore-lease-missing", `Put("k/none", "x", WithIgnoreLease())`, "k/none", "x", clientv3.WithIgnoreLease())
	put(c, "put.empty-key", `Put("", "x")`, "", "x")
	put(c, "put.missing-lease", `Put("k/l", "x", WithLease(0x3039))`, "k/l", "x", clientv3.WithLease(0x3039))
	put(c, "put.too-large", fmt.Sprintf(`Put("big/a", <%d bytes>)`, maxRequestBytes), "big/a", strings.Repeat("x", maxRequestBytes))
	// past --max-request-bytes plus etcd's 512 KiB of gRPC overhead, gRPC's own receive limit refuses the message
	grpcLimit := maxRequestBytes + 512*1024 + 1
	put(c, "put.grpc-too-large", fmt.Sprintf(`Put("big/b", <%d bytes>)`, grpcLimit), "big/b", strings.Repeat("x", grpcLimit))
	put(c, "put.just-fits", fmt.Sprintf(`Put("big/c", <%d bytes>)`, maxRequestBytes-512), "big/c", strings.Repeat("x", maxRequestBytes-512))
	del(c, "delete.big", `Delete("big/", WithPrefix())`, "big/", clientv3.WithPrefix())

	txn(c, "txn.success", `If(Value("k/a")="2", Version("k/b")=2, ModRevision("k/c")<100, CreateRevision("k/d")>0).Then(Put("k/t","then",WithPrevKV()), Get("k/",WithPrefix(),WithCountOnly()), Get("k/t")).Else(Put("k/t","else"))`,
		[]clientv3.Cmp{
			clientv3.Compare(clientv3.Value("k/a"), "=", "2"),
			clientv3.Compare(clientv3.Version("k/b"), "=", 2),
			clientv3.Compare(clientv3.ModRevision("k/c"), "<", 100),
			clientv3.Compare(clientv3.CreateRevision("k/d"), ">", 0),
		},
		[]clientv3.Op{clientv3.OpPut("k/t", "then", clientv3.WithPrevKV()), clientv3.OpGet("k/", clientv3.WithPrefix(), clientv3.WithCountOnly()), clientv3.OpGet("k/t")},
		[]clientv3.Op{clientv3.OpPut("k/t", "else")})
	txn(c, "txn.failure-nested", `If(Value("k/a")="nope").Then(Put("k/t","x")).Else(Get("k/a"), Put("k/t","else",WithPrevKV()), Txn(If(Version("k/t")>0).Then(Get("k/",WithPrefix(),WithKeysOnly())).Else(Put("k/u","u"))), Delete("k/missing"))`,
		[]clientv3.Cmp{clientv3.Compare(clientv3.Value("k/a"), "=", "nope")},
		[]clientv3.Op{clientv3.OpPut("k/t", "x")},
		[]clientv3.Op{
			clientv3.OpGet("k/a"),
			clientv3.OpPut("k/t", "else", clientv3.WithPrevKV()),
			clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.Version("k/t"), ">", 0)}, []clientv3.Op{clientv3.OpGet("k/", clientv3.WithPrefix(), clientv3.WithKeysOnly())}, []clientv3.Op{clientv3.OpPut("k/u", "u")}),
			clientv3.OpDelete("k/missing"),
		})
	txn(c, "txn.nested-else", `If(Value("k/a")="2").Then(Txn(If(Value("k/t")="then").Then(Put("k/u","u1")).Else(Delete("k/t",WithPrevKV()), Get("k/t"))))`,
		[]clientv3.Cmp{clientv3.Compare(clientv3.Value("k/a"), "=", "2")},
		[]clientv3.Op{clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.Value("k/t"), "=", "then")}, []clientv3.Op{clientv3.OpPut("k/u", "u1")}, []clientv3.Op{clientv3.OpDelete("k/t", clientv3.WithPrevKV()), clientv3.OpGet("k/t")})},
		nil)
	txn(c, "txn.missing-version", `If(Version("k/missing")=0).Then(Get("k/missing"))`,
		[]clientv3.Cmp{clientv3.Compare(clientv3.Version("k/missing"), "=", 0)}, []clientv3.Op{clientv3.OpGet("k/missing")}, nil)
	txn(c, "txn.missing-value", `If(Value("k/missing")="").Then(Put("k/v","then")).Else(Put("k/v","else"))`,
		[]clientv3.Cmp{clientv3.Compare(clientv3.Value("k/missing"), "=", "")}, []clientv3.Op{clientv3.OpPut("k/v", "then")}, []clientv3.Op{clientv3.OpPut("k/v", "else")})
	txn(c, "txn.missing-create", `If(CreateRevision("k/missing")=0, ModRevision("k/missing")<1).Then(Get("k/v"))`,
		[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision("k/missing"), "=", 0), clientv3.Compare(clientv3.ModRevision("k/missing"), "<", 1)}, []clientv3.Op{clientv3.OpGet("k/v")}, nil)
	txn(c, "txn.lease-compare", `If(LeaseValue("k/a")=0).Then(Get("k/a",WithKeysOnly()))`,
		[]clientv3.Cmp{clientv3.Compare(clientv3.LeaseValue("k/a"), "=", clientv3.NoLease)}, []clientv3.Op{clientv3.OpGet("k/a", clientv3.WithKeysOnly())}, nil)
	txn(c, "txn.not-equal", `If(Value("k/a")!="x", Version("k/a")>1, Value("k/b")<"b3").Then(Get("k/b"))`,
		[]clientv3.Cmp{clientv3.Compare(clientv3.Value("k/a"), "!=", "x"), clientv3.Compare(clientv3.Version("k/a"), ">", 1), clientv3.Compare(clientv3.Value("k/b"), "<", "b3")}, []clientv3.Op{clientv3.OpGet("k/b")}, nil)
	txn(c, "txn.prefix-compare-true", `If(Version("k/").WithPrefix()>0).Then(Get("k/",WithPrefix(),WithCountOnly()))`,
		[]clientv3.Cmp{clientv3.Compare(clientv3.Version("k/"), ">", 0).WithPrefix()}, []clientv3.Op{clientv3.OpGet("k/", clientv3.WithPrefix(), clientv3.WithCountOnly())}, nil)
	txn(c, "txn.prefix-compare-false", `If(Value("k/").WithPrefix()="2").Then(Put("k/w","then")).Else(Put("k/w","else"))`,
		[]clientv3.Cmp{clientv3.Compare(clientv3.Value("k/"), "=", "2").WithPrefix()}, []clientv3.Op{clientv3.OpPut("k/w", "then")}, []clientv3.Op{clientv3.OpPut("k/w", "else")})
	txn(c, "txn.empty", `Txn().Commit()`, nil, nil, nil)
	txn(c, "txn.duplicate-key", `Then(Put("k/x","1"), Put("k/x","2"))`, nil, []clientv3.Op{clientv3.OpPut("k/x", "1"), clientv3.OpPut("k/x", "2")}, nil)
	many := []clientv3.Op{}
	for i := 0; i < 129; i++ {
		many = append(many, clientv3.OpPut(fmt.Sprintf("k/many/%03d", i), "v"))
	}
	txn(c, "txn.too-many-ops", `Then(<129 puts>)`, nil, many, nil)
	txn(c, "txn.delete-range", `Then(Delete("k/v",WithRange("k/x"),WithPrevKV()), Get("k/",WithPrefix(),WithKeysOnly()))`,
		nil, []clientv3.Op{clientv3.OpDelete("k/v", clientv3.WithRange("k/x"), clientv3.WithPrevKV()), clientv3.OpGet("k/", clientv3.WithPrefix(), clientv3.WithKeysOnly())}, nil)

	del(c, "delete.single", `Delete("k/e", WithPrevKV())`, "k/e", clientv3.WithPrevKV())
	del(c, "delete.missing", `Delete("k/missing", WithPrevKV())`, "k/missing", clientv3.WithPrevKV())
	del(c, "delete.range", `Delete("k/a", WithRange("k/c"), WithPrevKV())`, "k/a", clientv3.WithRange("k/c"), clientv3.WithPrevKV())
	del(c, "delete.from-key", `Delete("k/u", WithFromKey())`, "k/u", clientv3.WithFromKey())
	del(c, "delete.prefix", `Delete("k/", WithPrefix(), WithPrevKV())`, "k/", clientv3.WithPrefix(), clientv3.WithPrevKV())
	get(c, "get.after-deletes", `Get("k/", WithPrefix())`, "k/", clientv3.WithPrefix())
	del(c, "delete.empty-key", `Delete("")`, "")
}

// ---- compaction ----------------------------------------------------------------------------------------------------

// revisionOf puts a key and returns the revision the put made (0 if it failed).
func revisionOf(c *clientv3.Client, name, key, value string) int64 {
	var rev int64
	step(name, fmt.Sprintf("Put(%q, %q)", key, value), func(ctx context.Context) (interface{}, error) {
		r, err := c.Put(ctx, key, value)
		if err != nil {
			return nil, err
		}
		rev = r.Header.Revision
		return putResp((*pb.PutResponse)(r)), nil
	})
	return rev
}

func compact(c *clientv3.Client, name string, rev int64, opts ...clientv3.CompactOption) {
	call := fmt.Sprintf("Compact(%d)", rev)
	if len(opts) > 0 {
		call = fmt.Sprintf("Compact(%d, WithCompactPhysical())", rev)
	}
	step(name, call, func(ctx context.Context) (interface{}, error) {
		r, err := c.Compact(ctx, rev, opts...)
		if err != nil {
			return nil, err
		}
		return line{"header": header(r.Header)}, nil
	})
}

// watchUntil prints every response of a watch until one has an event at `until` or later, the watch is cancelled, or
// the call timeout passes; then it cancels the watch's context and prints what the channel still gave.
func watchUntil(c *clientv3.Client, name, call, key string, until int64, opts ...clientv3.OpOption) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	wch := c.Watch(ctx, key, opts...)
	reached := false
	for wr := range wch {
		emit(line{"step": name, "call": call, "watch": true, "resp": watchResp(wr)})
		if wr.Canceled {
			break
		}
		if n := len(wr.Events); n > 0 && wr.Events[n-1].Kv.ModRevision >= until {
			reached = true
			break
		}
	}
	cancel()
	after := 0
	for range wch {
		after++
	}
	note(name+".closed", line{"reached": reached, "responses_after_cancel": after})
}

func compactionScenario(c *clientv3.Client) {
	r1 := revisionOf(c, "compaction.put1", "c/x", "v1")
	r2 := revisionOf(c, "compaction.put2", "c/x", "v2")
	r3 := revisionOf(c, "compaction.put3", "c/x", "v3")
	compact(c, "compaction.compact", r2)
	get(c, "compaction.get-compacted", fmt.Sprintf(`Get("c/x", WithRev(%d))`, r1), "c/x", clientv3.WithRev(r1))
	get(c, "compaction.get-at-compaction", fmt.Sprintf(`Get("c/x", WithRev(%d))`, r2), "c/x", clientv3.WithRev(r2))
	get(c, "compaction.get-after", fmt.Sprintf(`Get("c/x", WithRev(%d))`, r3), "c/x", clientv3.WithRev(r3))
	txn(c, "compaction.txn-get-compacted", fmt.Sprintf(`Then(Get("c/x", WithRev(%d)))`, r1), nil, []clientv3.Op{clientv3.OpGet("c/x", clientv3.WithRev(r1))}, nil)
	compact(c, "compaction.again", r1)
	compact(c, "compaction.future", 100000)
	compact(c, "compaction.physical", r3, clientv3.WithCompactPhysical())
	watchUntil(c, "compaction.watch-compacted", fmt.Sprintf(`Watch("c/x", WithRev(%d))`, r1), "c/x", r3, clientv3.WithRev(r1))
	get(c, "compaction.get-latest", `Get("c/x")`, "c/x")
	// a watch from the compaction revision on replays what is left of the history
	r4 := revisionOf(c, "compaction.put4", "c/x", "v4")
	del(c, "compaction.delete", `Delete("c/x")`, "c/x")
	watchUntil(c, "compaction.watch-history", fmt.Sprintf(`Watch("c/", WithPrefix(), WithRev(%d), WithPrevKV())`, r3), "c/", r4+1, clientv3.WithPrefix(), clientv3.WithRev(r3), clientv3.WithPrevKV())
	watchUntil(c, "compaction.watch-filter-put", fmt.Sprintf(`Watch("c/x", WithRev(%d), WithFilterPut())`, r3), "c/x", r4+1, clientv3.WithRev(r3), clientv3.WithFilterPut())
}

// ---- leases --------------------------------------------------------------------------------------------------------

func grant(c *clientv3.Client, name string, ttl int64) clientv3.LeaseID {
	var id clientv3.LeaseID
	step(name, fmt.Sprintf("Grant(%d)", ttl), func(ctx context.Context) (interface{}, error) {
		r, err := c.Grant(ctx, ttl)
		if err != nil {
			return nil, err
		}
		id = r.ID
		return line{"header": header(r.ResponseHeader), "lease": hexID(int64(r.ID)), "ttl": r.TTL, "error": r.Error}, nil
	})
	return id
}

func revoke(c *clientv3.Client, name string, id clientv3.LeaseID) {
	step(name, fmt.Sprintf("Revoke(%x)", int64(id)), func(ctx context.Context) (interface{}, error) {
		r, err := c.Revoke(ctx, id)
		if err != nil {
			return nil, err
		}
		return line{"header": header(r.Header)}, nil
	})
}

func keepAliveOnce(c *clientv3.Client, name string, id clientv3.LeaseID) {
	step(name, fmt.Sprintf("KeepAliveOnce(%x)", int64(id)), func(ctx context.Context) (interface{}, error) {
		r, err := c.KeepAliveOnce(ctx, id)
		if err != nil {
			return nil, err
		}
		return line{"header": header(r.ResponseHeader), "lease": hexID(int64(r.ID)), "ttl": r.TTL}, nil
	})
}

func timeToLive(c *clientv3.Client, name string, id clientv3.LeaseID) {
	step(name, fmt.Sprintf("TimeToLive(%x, WithAttachedKeys())", int64(id)), func(ctx context.Context) (interface{}, error) {
		r, err := c.TimeToLive(ctx, id, clientv3.WithAttachedKeys())
		if err != nil {
			return nil, err
		}
		keys := []string{}
		for _, k := range r.Keys {
			keys = append(keys, b64(k))
		}
		return line{"header": header(r.ResponseHeader), "lease": hexID(int64(r.ID)), "ttl": r.TTL, "granted_ttl": r.GrantedTTL, "keys": keys}, nil
	})
}

func leaseScenario(c *clientv3.Client) {
	l1 := grant(c, "lease.grant", 60)
	put(c, "lease.put-a", `Put("l/a", "a", WithLease(L1))`, "l/a", "a", clientv3.WithLease(l1))
	put(c, "lease.put-b", `Put("l/b", "b", WithLease(L1), WithPrevKV())`, "l/b", "b", clientv3.WithLease(l1), clientv3.WithPrevKV())
	put(c, "lease.put-c-then-detach", `Put("l/c", "c", WithLease(L1))`, "l/c", "c", clientv3.WithLease(l1))
	put(c, "lease.detach", `Put("l/c", "c2")`, "l/c", "c2")
	put(c, "lease.ignore-lease", `Put("l/a", "a2", WithIgnoreLease(), WithPrevKV())`, "l/a", "a2", clientv3.WithIgnoreLease(), clientv3.WithPrevKV())
	get(c, "lease.get", `Get("l/", WithPrefix())`, "l/", clientv3.WithPrefix())
	keepAliveOnce(c, "lease.keep-alive-once", l1)
	timeToLive(c, "lease.time-to-live", l1)
	txn(c, "lease.txn-compare", `If(LeaseValue("l/a")=L1, LeaseValue("l/c")=0).Then(Get("l/a"))`,
		[]clientv3.Cmp{clientv3.Compare(clientv3.LeaseValue("l/a"), "=", l1), clientv3.Compare(clientv3.LeaseValue("l/c"), "=", clientv3.NoLease)}, []clientv3.Op{clientv3.OpGet("l/a")}, nil)

	l2 := grant(c, "lease.grant-short", 3)
	func() {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		ch, err := c.KeepAlive(ctx, l2)
		if err != nil {
			l := line{}
			setErr(l, err)
			note("lease.keep-alive", l)
			return
		}
		// the client sends a keep-alive at once and then every TTL/3; two responses show the stream keeps working
		for i := 0; i < 2; i++ {
			r, ok := <-ch
			if !ok {
				note("lease.keep-alive", line{"closed_after": i})
				return
			}
			note("lease.keep-alive", line{"call": "KeepAlive(L2)", "resp": line{"header": header(r.ResponseHeader), "lease": hexID(int64(r.ID)), "ttl": r.TTL}})
		}
		cancel()
		for range ch {
		}
		note("lease.keep-alive.closed", line{})
	}()
	revoke(c, "lease.revoke-short", l2)
	step("lease.leases", "Leases()", func(ctx context.Context) (interface{}, error) {
		r, err := c.Leases(ctx)
		if err != nil {
			return nil, err
		}
		ids := []string{}
		for _, l := range r.Leases {
			ids = append(ids, hexID(int64(l.ID)))
		}
		return line{"header": header(r.ResponseHeader), "leases": ids}, nil
	})
	revoke(c, "lease.revoke", l1)
	get(c, "lease.get-after-revoke", `Get("l/", WithPrefix())`, "l/", clientv3.WithPrefix())
	timeToLive(c, "lease.time-to-live-revoked", l1)
	keepAliveOnce(c, "lease.keep-alive-once-revoked", l1)
	revoke(c, "lease.revoke-again", l1)
	put(c, "lease.put-revoked", `Put("l/a", "x", WithLease(L1))`, "l/a", "x", clientv3.WithLease(l1))
	grant(c, "lease.grant-too-long", 9000000001)
}

// ---- watch under concurrent writes ---------------------------------------------------------------------------------

const (
	writers         = 4
	opsPerWriter    = 75
	keysPerWriter   = 6
	watchedPrefix   = "w/"
	endMarker       = "w/end"
	writerKeyFormat = "w/%d/%d"
)

// writer makes a deterministic sequence of puts, deletes and txns on its own keys (w/<g>/...), so that the outcome of
// each operation does not depend on the other writers; only the revision it lands on does.
func writer(c *clientv3.Client, g int, lease clientv3.LeaseID) {
	r := rand.New(rand.NewSource(int64(g + 1)))
	for i := 0; i < opsPerWriter; i++ {
		k := fmt.Sprintf(writerKeyFormat, g, r.Intn(keysPerWriter))
		k2 := fmt.Sprintf(writerKeyFormat, g, r.Intn(keysPerWriter))
		v := fmt.Sprintf("g%d-%d", g, i)
		var call string
		var fn func(ctx context.Context) (interface{}, error)
		switch x := r.Intn(10); {
		case x < 4:
			call = fmt.Sprintf("Put(%q, %q, WithPrevKV())", k, v)
			fn = func(ctx context.Context) (interface{}, error) {
				res, err := c.Put(ctx, k, v, clientv3.WithPrevKV())
				if err != nil {
					return nil, err
				}
				return putResp((*pb.PutResponse)(res)), nil
			}
		case x < 5:
			call = fmt.Sprintf("Put(%q, %q, WithLease(WL))", k, v)
			fn = func(ctx context.Context) (interface{}, error) {
				res, err := c.Put(ctx, k, v, clientv3.WithLease(lease))
				if err != nil {
					return nil, err
				}
				return putResp((*pb.PutResponse)(res)), nil
			}
		case x < 7:
			call = fmt.Sprintf("Delete(%q, WithPrevKV())", k)
			fn = func(ctx context.Context) (interface{}, error) {
				res, err := c.Delete(ctx, k, clientv3.WithPrevKV())
				if err != nil {
					return nil, err
				}
				return deleteResp((*pb.DeleteRangeResponse)(res)), nil
			}
		case x < 8:
			end := fmt.Sprintf("w/%d/9", g)
			call = fmt.Sprintf("Delete(%q, WithRange(%q))", k, end)
			fn = func(ctx context.Context) (interface{}, error) {
				res, err := c.Delete(ctx, k, clientv3.WithRange(end))
				if err != nil {
					return nil, err
				}
				return deleteResp((*pb.DeleteRangeResponse)(res)), nil
			}
		default:
			call = fmt.Sprintf("If(Version(%q)>0).Then(Put(%q,%q), Put(%q,%q,WithPrevKV())).Else(Put(%q,%q), Delete(%q))", k, k, v, k2, v+"'", k, v, k2)
			fn = func(ctx context.Context) (interface{}, error) {
				res, err := c.Txn(ctx).If(clientv3.Compare(clientv3.Version(k), ">", 0)).
					Then(clientv3.OpPut(k, v), clientv3.OpPut(k2, v+"'", clientv3.WithPrevKV())).
					Else(clientv3.OpPut(k, v), clientv3.OpDelete(k2)).Commit()
				if err != nil {
					return nil, err
				}
				return txnResp((*pb.TxnResponse)(res)), nil
			}
			if k2 == k {
				// one key twice in a txn is refused (duplicate key); keep this a valid write
				call = fmt.Sprintf("If(Version(%q)>0).Then(Put(%q,%q)).Else(Delete(%q))", k, k, v, k)
				fn = func(ctx context.Context) (interface{}, error) {
					res, err := c.Txn(ctx).If(clientv3.Compare(clientv3.Version(k), ">", 0)).Then(clientv3.OpPut(k, v)).Else(clientv3.OpDelete(k)).Commit()
					if err != nil {
						return nil, err
					}
					return txnResp((*pb.TxnResponse)(res)), nil
				}
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		res, err := fn(ctx)
		cancel()
		l := line{"step": "load.op", "concurrent": true, "writer": g, "op": i, "call": call}
		if err != nil {
			setErr(l, err)
		} else {
			l["resp"] = res
		}
		emit(l)
	}
}

// collector keeps what one watch channel delivered, printing each response as it arrives.
type collector struct {
	mu        sync.Mutex
	lastEvent int64
	progress  int64
	closed    bool
}

func (w *collector) run(name, call string, wch clientv3.WatchChan) {
	for wr := range wch {
		emit(line{"step": name, "call": call, "watch": true, "concurrent": true, "resp": watchResp(wr)})
		w.mu.Lock()
		if n := len(wr.Events); n > 0 {
			w.lastEvent = wr.Events[n-1].Kv.ModRevision
		}
		if wr.IsProgressNotify() {
			w.progress = wr.Header.Revision
		}
		w.mu.Unlock()
	}
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

func (w *collector) state() (int64, int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastEvent, w.progress, w.closed
}

func watchScenario(c, c2 *clientv3.Client) {
	wl := grant(c, "watch.grant", 600)
	revisionOf(c, "watch.seed0", "w/seed/0", "s0")
	from := revisionOf(c, "watch.seed1", "w/seed/1", "s1")
	seeded := revisionOf(c, "watch.seed2", "w/seed/2", "s2")
	// the watch starts in the past (at seed1), so it first catches up from history, then follows the writers
	note("watch.start", line{"start_revision": from})
	call := fmt.Sprintf(`Watch("w/", WithPrefix(), WithPrevKV(), WithRev(%d))`, from)
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	col := &collector{}
	done := make(chan struct{})
	go func() {
		col.run("watch.load", call, c.Watch(wctx, watchedPrefix, clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithRev(from)))
		close(done)
	}()

	// the writers start once the watch has caught up with the seeds, so that it then follows them live
	caughtUp := waitUntil(func() bool { last, _, _ := col.state(); return last >= seeded })
	note("watch.seeds-delivered", line{"reached": caughtUp})
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			// half the writers share the watcher's connection, half use a second one
			if g%2 == 0 {
				writer(c, g, wl)
			} else {
				writer(c2, g, wl)
			}
		}(g)
	}
	wg.Wait()
	revoke(c, "watch.revoke", wl)
	end := revisionOf(c, "watch.end", endMarker, "end")
	reached := waitUntil(func() bool { last, _, _ := col.state(); return last >= end })
	note("watch.caught-up", line{"reached": reached, "revision": end})
	step("watch.request-progress", "RequestProgress()", func(ctx context.Context) (interface{}, error) {
		return line{}, c.RequestProgress(ctx)
	})
	progressed := waitUntil(func() bool { _, p, _ := col.state(); return p >= end })
	note("watch.progress", line{"reached": progressed})
	wcancel()
	closed := waitUntil(func() bool { _, _, cl := col.state(); return cl })
	note("watch.cancelled", line{"channel_closed": closed})
	if closed {
		<-done
	}

	// the watched range at every revision from the one before the watch's start on, for the watch checker
	for rev := from - 1; rev <= end; rev++ {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		r, err := c.Get(ctx, watchedPrefix, clientv3.WithPrefix(), clientv3.WithRev(rev))
		cancel()
		l := line{"step": "history", "concurrent": true, "revision": rev}
		if err != nil {
			setErr(l, err)
		} else {
			l["kvs"] = kvs(r.Kvs)
		}
		emit(l)
	}
	get(c, "watch.final", `Get("w/", WithPrefix(), WithCountOnly())`, watchedPrefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
}

// ---- cluster and maintenance ---------------------------------------------------------------------------------------

func clusterScenario(c *clientv3.Client, endpoint string) {
	step("cluster.member-list", "MemberList()", func(ctx context.Context) (interface{}, error) {
		r, err := c.MemberList(ctx)
		if err != nil {
			return nil, err
		}
		members := []line{}
		for _, m := range r.Members {
			members = append(members, line{"member_id": strconv.FormatUint(m.ID, 16), "name": m.Name, "peer_urls": m.PeerURLs, "client_urls": m.ClientURLs, "is_learner": m.IsLearner})
		}
		return line{"header": header(r.Header), "members": members}, nil
	})
	step("maintenance.status", fmt.Sprintf("Status(%q)", endpoint), func(ctx context.Context) (interface{}, error) {
		r, err := c.Status(ctx, endpoint)
		if err != nil {
			return nil, err
		}
		errs := r.Errors
		if errs == nil {
			errs = []string{}
		}
		return line{"header": header(r.Header), "version": r.Version, "db_size": r.DbSize, "leader": strconv.FormatUint(r.Leader, 16), "raft_index": r.RaftIndex, "raft_term": r.RaftTerm,
			"raft_applied_index": r.RaftAppliedIndex, "errors": errs, "db_size_in_use": r.DbSizeInUse, "is_learner": r.IsLearner}, nil
	})
}

// ---- concurrency: sessions, mutex, election, STM -------------------------------------------------------------------

func session(c *clientv3.Client, name string) *concurrency.Session {
	var s *concurrency.Session
	step(name, "NewSession(WithTTL(30))", func(ctx context.Context) (interface{}, error) {
		var err error
		s, err = concurrency.NewSession(c, concurrency.WithTTL(30))
		if err != nil {
			return nil, err
		}
		return line{"lease": hexID(int64(s.Lease()))}, nil
	})
	return s
}

func closeSession(name string, s *concurrency.Session) {
	if s == nil {
		return
	}
	step(name, "Session.Close()", func(ctx context.Context) (interface{}, error) {
		return line{}, s.Close()
	})
}

func count(c *clientv3.Client, prefix string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	r, err := c.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return -1
	}
	return r.Count
}

func lockScenario(c, c2 *clientv3.Client) {
	s1 := session(c, "lock.session1")
	s2 := session(c2, "lock.session2")
	if s1 == nil || s2 == nil {
		return
	}
	m1 := concurrency.NewMutex(s1, "lock")
	m2 := concurrency.NewMutex(s2, "lock")
	step("lock.lock1", "Mutex(s1).Lock()", func(ctx context.Context) (interface{}, error) {
		if err := m1.Lock(ctx); err != nil {
			return nil, err
		}
		return line{"key": b64([]byte(m1.Key())), "header": header(m1.Header())}, nil
	})

	var mu sync.Mutex
	order := []string{}
	record := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	acquired := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*callTimeout)
		defer cancel()
		err := m2.Lock(ctx)
		record("lock2 acquired")
		acquired <- err
	}()
	// the second session has queued its key behind the first: it must now wait for the first to unlock
	queued := waitUntil(func() bool { return count(c, "lock/") == 2 })
	note("lock.queued", line{"queued": queued, "waiters": count(c, "lock/")})
	get(c, "lock.keys", `Get("lock/", WithPrefix(), WithSort(SortByCreateRevision, SortAscend))`, "lock/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	txn(c, "lock.is-owner", "If(Mutex(s1).IsOwner()).Then(Put(\"lock-owned\", \"1\"))", []clientv3.Cmp{m1.IsOwner()}, []clientv3.Op{clientv3.OpPut("lock-owned", "1")}, nil)
	record("lock1 unlocking")
	step("lock.unlock1", "Mutex(s1).Unlock()", func(ctx context.Context) (interface{}, error) {
		return line{}, m1.Unlock(ctx)
	})
	var err2 error
	select {
	case err2 = <-acquired:
	case <-time.After(2 * callTimeout):
		err2 = fmt.Errorf("second lock never acquired")
	}
	l := line{"call": "Mutex(s2).Lock()"}
	if err2 != nil {
		setErr(l, err2)
	} else {
		l["resp"] = line{"key": b64([]byte(m2.Key())), "header": header(m2.Header())}
	}
	note("lock.lock2", l)
	mu.Lock()
	note("lock.order", line{"order": append([]string{}, order...)})
	mu.Unlock()
	step("lock.unlock2", "Mutex(s2).Unlock()", func(ctx context.Context) (interface{}, error) {
		return line{}, m2.Unlock(ctx)
	})
	del(c, "lock.cleanup", `Delete("lock-owned")`, "lock-owned")
	closeSession("lock.close1", s1)
	closeSession("lock.close2", s2)
}

func observed(r clientv3.GetResponse) line {
	return line{"header": header(r.Header), "kvs": kvs(r.Kvs)}
}

func electionScenario(c, c2 *clientv3.Client) {
	s1 := session(c, "election.session1")
	s2 := session(c2, "election.session2")
	s3 := session(c, "election.session3")
	if s1 == nil || s2 == nil || s3 == nil {
		return
	}
	// the election's keys are elect/<lease in hex> (NewElection appends the slash)
	e1 := concurrency.NewElection(s1, "elect")
	e2 := concurrency.NewElection(s2, "elect")
	observer := concurrency.NewElection(s3, "elect")
	leader := func(name string, e *concurrency.Election) {
		step(name, "Election.Leader()", func(ctx context.Context) (interface{}, error) {
			r, err := e.Leader(ctx)
			if err != nil {
				return nil, err
			}
			return rangeResp((*pb.RangeResponse)(r)), nil
		})
	}
	leader("election.leader-none", observer)
	step("election.campaign1", `Election(s1).Campaign("v1")`, func(ctx context.Context) (interface{}, error) {
		if err := e1.Campaign(ctx, "v1"); err != nil {
			return nil, err
		}
		return line{"key": b64([]byte(e1.Key())), "rev": e1.Rev(), "header": header(e1.Header())}, nil
	})

	octx, ocancel := context.WithCancel(context.Background())
	defer ocancel()
	obs := observer.Observe(octx)
	observe := func(name string) {
		select {
		case r, ok := <-obs:
			if !ok {
				note(name, line{"err": "observe channel closed"})
				return
			}
			note(name, line{"call": "<-Observe()", "resp": observed(r)})
		case <-time.After(callTimeout):
			note(name, line{"err": "no observation"})
		}
	}
	observe("election.observe1")
	step("election.proclaim", `Election(s1).Proclaim("v2")`, func(ctx context.Context) (interface{}, error) {
		if err := e1.Proclaim(ctx, "v2"); err != nil {
			return nil, err
		}
		return line{"header": header(e1.Header())}, nil
	})
	observe("election.observe2")

	campaigned := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*callTimeout)
		defer cancel()
		campaigned <- e2.Campaign(ctx, "w1")
	}()
	queued := waitUntil(func() bool { return count(c, "elect/") == 2 })
	note("election.queued", line{"queued": queued})
	leader("election.leader-still-first", e2)
	step("election.resign1", "Election(s1).Resign()", func(ctx context.Context) (interface{}, error) {
		if err := e1.Resign(ctx); err != nil {
			return nil, err
		}
		return line{"header": header(e1.Header())}, nil
	})
	var err2 error
	select {
	case err2 = <-campaigned:
	case <-time.After(2 * callTimeout):
		err2 = fmt.Errorf("second campaign never won")
	}
	l := line{"call": `Election(s2).Campaign("w1")`}
	if err2 != nil {
		setErr(l, err2)
	} else {
		l["resp"] = line{"key": b64([]byte(e2.Key())), "rev": e2.Rev(), "header": header(e2.Header())}
	}
	note("election.campaign2", l)
	observe("election.observe3")
	leader("election.leader-second", e1)
	step("election.proclaim-not-leader", `Election(s1).Proclaim("v3")`, func(ctx context.Context) (interface{}, error) {
		return line{}, e1.Proclaim(ctx, "v3")
	})
	step("election.resign2", "Election(s2).Resign()", func(ctx context.Context) (interface{}, error) {
		return line{}, e2.Resign(ctx)
	})
	ocancel()
	leader("election.leader-after", observer)
	closeSession("election.close1", s1)
	closeSession("election.close2", s2)
	closeSession("election.close3", s3)
}

const (
	stmWorkers    = 4
	stmIncrements = 5
)

func stmScenario(c, c2 *clientv3.Client) {
	var wg sync.WaitGroup
	for w := 0; w < stmWorkers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			client := c
			if w%2 == 1 {
				client = c2
			}
			commits := 0
			errs := []string{}
			for i := 0; i < stmIncrements; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 3*callTimeout)
				_, err := concurrency.NewSTM(client, func(s concurrency.STM) error {
					n := 0
					if v := s.Get("stm/counter"); v != "" {
						var err error
						if n, err = strconv.Atoi(v); err != nil {
							return err
						}
					}
					s.Put("stm/counter", strconv.Itoa(n+1))
					s.Put(fmt.Sprintf("stm/last/%d", w), strconv.Itoa(i))
					return nil
				}, concurrency.WithAbortContext(ctx))
				cancel()
				if err != nil {
					errs = append(errs, err.Error())
				} else {
					commits++
				}
			}
			emit(line{"step": "stm.worker", "concurrent": true, "worker": w, "commits": commits, "errors": errs})
		}(w)
	}
	wg.Wait()
	get(c, "stm.counter", `Get("stm/counter")`, "stm/counter")
	// the workers' own keys were created in an order that depends on scheduling: count them only
	get(c, "stm.count", `Get("stm/", WithPrefix(), WithCountOnly())`, "stm/", clientv3.WithPrefix(), clientv3.WithCountOnly())
}
