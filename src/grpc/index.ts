// etcd's gRPC API (etcdserverpb KV, Watch, Lease, Cluster, Maintenance, Auth; v3lockpb; v3electionpb; grpc.health.v1)
// as a front end of the member: its own HTTP/2 layer on plain sockets, so the client port's multiplexer can hand it
// the connections that open with the HTTP/2 preface.

export { GrpcServer, type GrpcServerOptions, type GrpcServerStats, type ListeningAddress } from './grpc-server.js';
