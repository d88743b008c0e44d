// Options every worker thread of the member starts with (the read pool, the watch filter, the compactor).

/**
 * The worker files are ES modules. piscina loads a worker file with require() first and falls back to import();
 * Node 20.19+ lets require() load ES modules, and that path can abort the whole process (`FATAL ERROR:
 * v8::Module::IsGraphAsync must be used on an instantiated module`, SIGABRT) when a busy machine makes its
 * instantiation race, as seen here under the test suite's load. With require(esm) off in the workers, piscina's
 * require() fails cleanly and the file is loaded by import(), the loader ES modules were made for.
 */
export const WORKER_EXEC_ARGV: readonly string[] = Object.freeze([...process.execArgv, '--no-experimental-require-module']);
