// Crash test of the file checkpoint store: a real writer process is SIGKILLed at random moments, and every
// time the checkpoint must load, holding the last save that resolved or the one in flight.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFileCheckpointStore, fingerprintOf } from '../../src/checkpoint/file-store.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE = path.join(ROOT, 'node_modules', '.bin', 'node');
const WRITER = path.join(ROOT, 'test', 'support', 'checkpoint-writer.ts');
const FINGERPRINT = fingerprintOf({ test: 'checkpoint-crash' });
const KEY = 'routes/crash';
const ROUNDS = 15;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fwd-crash-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Round {
  readonly start: number;
  readonly saved: number[];
  readonly stderr: string;
  readonly signal: NodeJS.Signals | null;
}

/** Runs the writer, kills it `delayMs` after it has loaded its checkpoint, and returns what it reported. */
function runAndKill(delayMs: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [WRITER, dir, KEY], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let armed = false;
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      if (!armed && stdout.includes('\n')) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      const lines = stdout.split('\n').slice(0, -1); // complete lines only
      const start = Number(/^start (\d+)$/.exec(lines[0] ?? '')?.[1] ?? NaN);
      const saved = lines.slice(1).flatMap((l) => {
        const m = /^saved (\d+)$/.exec(l);
        return m === null ? [] : [Number(m[1])];
      });
      resolve({ start, saved, stderr, signal });
    });
  });
}

it(
  'after a SIGKILL at any moment the checkpoint loads and holds the last resolved save or the next one',
  async () => {
    const store = createFileCheckpointStore(dir);
    let expectedStart = 0;
    let totalSaves = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const delayMs = Math.floor(Math.random() * 40);
      const r = await runAndKill(delayMs);
      expect(r.stderr, `round ${round}: writer wrote to stderr`).toBe('');
      expect(r.signal, `round ${round}: writer ended on its own`).toBe('SIGKILL');
      // The writer itself resumed from what the previous round left.
      expect(r.start, `round ${round}`).toBe(expectedStart);
      for (let i = 0; i < r.saved.length; i++) expect(r.saved[i]).toBe(r.start + i + 1);

      const lastResolved = r.saved.at(-1) ?? r.start;
      const checkpoint = await store.load(KEY, FINGERPRINT);
      const counter = checkpoint?.sinks['main']?.records ?? 0;
      expect(counter, `round ${round} (killed after ${delayMs} ms)`).toBeGreaterThanOrEqual(lastResolved);
      expect(counter, `round ${round} (killed after ${delayMs} ms)`).toBeLessThanOrEqual(lastResolved + 1);
      expect(checkpoint?.sinks['other']?.records ?? 0).toBe(counter * 2);
      // The crash's temp files are gone after load; only the checkpoint and its previous copy remain.
      // (A writer killed before its first save has not made the directory yet.)
      const names = await readdir(path.join(dir, 'routes')).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT' && counter === 0) return [];
        throw e;
      });
      const left = names.filter((n) => n.includes('.tmp-'));
      expect(left).toEqual([]);
      expectedStart = counter;
      totalSaves += r.saved.length;
    }
    // The kills did not all land before the first save.
    expect(totalSaves).toBeGreaterThan(0);
  },
  90_000,
);
