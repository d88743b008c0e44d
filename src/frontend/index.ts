// The client port's public face: one listener per --listen-client-urls URL that routes each connection to the gRPC,
// binary or HTTP front end by its first bytes.

export { ClientPort, clientPortChannel, type ClientPortAddress, type ClientPortMessage, type ClientPortOptions, type ConnectionHandler, type GrpcFrontEnd, type HttpUpstream } from './client-port.js';
export { GRPC_SERVER_SETTINGS_FRAME, HTTP2_PREFACE, HTTP_BAD_REQUEST, sniffProtocol, type ClientProtocol } from './sniff.js';
export { proxyV2Header } from './proxy-protocol.js';
