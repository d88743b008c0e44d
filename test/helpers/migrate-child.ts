// Opens a data directory in a process of its own (so a failpoint can kill it mid-migration):
//   node dist/test/helpers/migrate-child.js DATA_DIR CHUNK_RECORDS
// Prints "opened" once the directory is open (migrated), then closes it.

import { openStorage } from '../../src/storage/index.js';

const [dataDir, chunk] = process.argv.slice(2);
const storage = await openStorage(dataDir!, { migrationChunkRecords: Number(chunk) });
process.stdout.write('opened\n');
await storage.close();
