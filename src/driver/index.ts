// The Raft driver: the ordering contract between Raft and the world (persist -> send -> apply -> advance), with all
// I/O behind ports. Its own subsystem so that the member (src/server, over LMDB and the transport) and the
// deterministic simulation (src/sim, over an in-memory disk and network) run the very same driver, and the
// simulation never loads the server.
export * from './raft-driver.js';
