// Child process of the lock tests: takes a checkpoint key's lock and holds it until killed or its stdin closes.
// Usage: node test/support/checkpoint-locker.ts <directory> <key> [command]. Prints `locked <pid>` once it holds
// the lock; a refusal goes to stderr with exit code 2.
import { createFileCheckpointStore } from '../../src/checkpoint/file-store.ts';
import { isForwarderError } from '../../src/contracts/errors.ts';

const [directory, key, command = 'checkpoint-locker'] = process.argv.slice(2);
if (directory === undefined || key === undefined) throw new TypeError('usage: checkpoint-locker.ts <directory> <key> [command]');

try {
  await createFileCheckpointStore(directory).lock(key, { command });
} catch (e) {
  process.stderr.write(`${isForwarderError(e) ? `${e.code}: ${e.message}` : String(e)}\n`);
  process.exit(2);
}
process.stdout.write(`locked ${process.pid}\n`);
// The open stdin keeps this process alive; its end (the test process gone) ends it, so none is left behind.
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
