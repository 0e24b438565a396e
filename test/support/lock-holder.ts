// Runs test/support/checkpoint-locker.ts: another process that holds a checkpoint's lock until the test kills it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE = path.join(ROOT, 'node_modules', '.bin', 'node');
const LOCKER = path.join(ROOT, 'test', 'support', 'checkpoint-locker.ts');

export interface LockHolderProcess {
  readonly pid: number;
  /** SIGKILLs the holder (a crash: it releases nothing itself) and resolves once it has exited. */
  crash(): Promise<void>;
}

/** Starts a process that locks `key` in the checkpoint directory `directory`; resolves once it holds the lock. */
export function holdCheckpointLock(directory: string, key: string, command = 'checkpoint-locker'): Promise<LockHolderProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [LOCKER, directory, key, command], { stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (/^locked \d+\n/.test(stdout)) {
        resolve({
          pid: child.pid!,
          crash: async () => {
            child.kill('SIGKILL');
            await exited;
          },
        });
      }
    });
    child.on('error', reject);
    // `close`, not `exit`: by then all of stderr has been read.
    child.on('close', (code, signal) => reject(new Error(`the lock holder ended before it held the lock (${code ?? signal}): ${stderr}`)));
  });
}
