// End to end: the `audit-files` source in the CLI as a child process, through rotations, restarts, kills and bad lines.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fingerprint, type FileState } from '../../connectors/audit-files/identity.ts';
import { CadfFileWriter, cadfId, cadfLine, cadfLines, seededRandom } from '../support/cadf-lines.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const CLI = join(ROOT, 'src/cli/main.ts');
const ROUTE = 'r1';


const dirs: string[] = [];
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (process.env.KEEP_TEMP === undefined) for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Env {
  readonly dir: string;
  readonly logs: string;
  readonly config: string;
  readonly out: string;
  readonly dlq: string;
}

interface EnvOptions {
  /** Glob patterns, relative to the temp dir (made absolute). */
  readonly paths?: readonly string[];
  readonly maxEvents?: number;
  readonly maxInFlight?: number;
  readonly fsync?: boolean;
  readonly extraSource?: string;
}

function setup(options: EnvOptions = {}): Env {
  const dir = mkdtempSync(join(tmpdir(), 'af-audit-'));
  dirs.push(dir);
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const paths = (options.paths ?? ['logs/*-audit.log']).map((p) => JSON.stringify(join(dir, p)));
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `sources:
  audit: { type: audit-files, paths: [${paths.join(', ')}], pollInterval: 50ms${options.extraSource ?? ''} }
sinks:
  archive: { type: file, path: out/events.jsonl, mapping: canonical, fsync: ${options.fsync ?? true} }
routes:
  ${ROUTE}:
    from: audit
    to: [archive]
    batch: { maxEvents: ${options.maxEvents ?? 50}, maxBytes: 4MiB, maxAge: 50ms }
    maxInFlight: ${options.maxInFlight ?? 2}
checkpoints: { directory: state/checkpoints }
deadLetter: { directory: state/dead-letter }
shutdownTimeout: 20s
logging: { level: info }
`,
  );
  return { dir, logs, config, out: join(dir, 'out/events.jsonl'), dlq: join(dir, `state/dead-letter/${ROUTE}.dlq.jsonl`) };
}

interface Forwarder {
  readonly child: ChildProcess;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

function start(env: Env): Forwarder {
  const child = spawn(NODE, [CLI, 'run', '-c', env.config], { cwd: env.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (err.length < 200_000) err += d.toString();
    // Every run's log, kept with the files of a failed case for the diagnosis.
    appendFileSync(join(env.dir, 'forwarder.log'), d);
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      r({ code, signal });
    }),
  );
  return { child, exit, stderr: () => err };
}

/** SIGTERM: the forwarder finishes what is in flight, saves its checkpoint and exits 0. */
async function stop(f: Forwarder): Promise<void> {
  f.child.kill('SIGTERM');
  const { code, signal } = await f.exit;
  expect({ code, signal }, f.stderr()).toEqual({ code: 0, signal: null });
}

async function kill(f: Forwarder): Promise<void> {
  f.child.kill('SIGKILL');
  await f.exit;
}

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` until it holds; fails early, with its stderr, if the forwarder died. */
async function waitFor(what: string, cond: () => boolean, f?: Forwarder, ms = 60_000, detail?: () => string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (f !== undefined && (f.child.exitCode !== null || f.child.signalCode !== null)) {
      throw new Error(`the forwarder exited (${f.child.exitCode ?? f.child.signalCode}) while waiting for ${what}\n${f.stderr()}`);
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${detail === undefined ? '' : `: ${detail()}`}\n${f?.stderr() ?? ''}`);
    await pause(20);
  }
}

/**
 * The sink's output file read incrementally, whole lines only (the forwarder may be appending the next one):
 * every delivered id in order, and how often each was seen.
 */
class Output {
  readonly ids: string[] = [];
  readonly count = new Map<string, number>();
  private offset = 0;
  private rest = '';
  private readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  poll(): this {
    if (!existsSync(this.file)) return this;
    const fd = openSync(this.file, 'r');
    try {
      // Read from the end of the last whole line each time: after a crash the sink cuts a torn last line off
      // and appends after the cut, so bytes past it are not to be trusted until a newline ends them.
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        const end = buf.subarray(0, n).lastIndexOf(0x0a) + 1;
        if (end === 0) break;
        this.offset += end;
        for (const line of buf.toString('utf8', 0, end).split('\n')) {
          if (line === '') continue;
          const id = (JSON.parse(line) as { id: string }).id;
          this.ids.push(id);
          this.count.set(id, (this.count.get(id) ?? 0) + 1);
        }
      }
    } finally {
      closeSync(fd);
    }
    return this;
  }

  hasAll(ids: readonly string[]): boolean {
    this.poll();
    return ids.every((id) => this.count.has(id));
  }
}

/** Every id written was delivered, nothing else was, and at most `maxDuplicates` were delivered twice. */
function expectComplete(out: Output, written: readonly string[], maxDuplicates: number, context = ''): void {
  out.poll();
  const expected = new Set(written);
  expect(expected.size, `${context}: the writer's ids are unique`).toBe(written.length);
  const missing = written.filter((id) => !out.count.has(id));
  expect(missing.length, `${context}: ${missing.length} lines lost, first ${missing.slice(0, 5).join(', ')}`).toBe(0);
  const unexpected = [...out.count.keys()].filter((id) => !expected.has(id));
  expect(unexpected.slice(0, 5), `${context}: delivered ids nobody wrote`).toEqual([]);
  const duplicates = out.ids.length - out.count.size;
  expect(duplicates, `${context}: duplicates`).toBeLessThanOrEqual(maxDuplicates);
}

/** Logrotate's `copytruncate` keeping one generation: `<file>.1` is replaced by a copy, the file emptied in place. */
function copyTruncate(live: string): void {
  rmSync(`${live}.1`, { force: true });
  copyFileSync(live, `${live}.1`);
  truncateSync(live, 0);
}

/** Logrotate's default: the file is renamed to `<file>.1` (replacing the previous one). */
function renameRotate(live: string): void {
  renameSync(live, `${live}.1`);
}

describe('audit-files source (CLI child process, real files)', () => {
  it('rename-and-create rotation while running: the renamed file is read to its end, then the new one', async () => {
    const env = setup();
    const out = new Output(env.out);
    const live = join(env.logs, 'auth-idp-audit.log');
    const w = new CadfFileWriter(live, { tag: 'ren-run', random: seededRandom(1) });
    const f = start(env);
    w.write(300);
    await waitFor('the first lines', () => out.hasAll(w.written), f);
    w.write(200); // maybe not read yet when the file is renamed away
    renameRotate(live);
    w.write(80); // the service writes into the renamed file until it reopens
    w.reopen();
    w.write(300);
    await waitFor('the lines after the first rotation', () => out.hasAll(w.written), f);
    renameRotate(live); // a second rotation replaces the finished `.1`
    w.write(50);
    w.reopen();
    w.write(200);
    await waitFor('every line', () => out.hasAll(w.written), f);
    await stop(f);
    w.close();
    expectComplete(out, w.written, 0, 'rename while running');
  });

  it('rename-and-create rotation while stopped: the unread end of the renamed file is read after the restart', async () => {
    const env = setup();
    const out = new Output(env.out);
    const live = join(env.logs, 'auth-idp-audit.log');
    const w = new CadfFileWriter(live, { tag: 'ren-stop', random: seededRandom(2) });
    const f = start(env);
    w.write(300);
    await waitFor('the first lines', () => out.hasAll(w.written), f);
    w.write(100);
    await stop(f);
    w.write(200); // never seen by the first run
    renameRotate(live);
    w.write(60);
    w.reopen();
    w.write(900); // the new file is longer than the old position
    const g = start(env);
    await waitFor('every line', () => out.hasAll(w.written), g);
    await stop(g);
    w.close();
    expectComplete(out, w.written, 0, 'rename while stopped');
  });

  it('copytruncate while running: what was not read before the truncation is read from the copy, then the file from 0', async () => {
    const env = setup();
    const out = new Output(env.out);
    const live = join(env.logs, 'auth-pdp-audit.log');
    const w = new CadfFileWriter(live, { tag: 'ct-run', random: seededRandom(3) });
    const f = start(env);
    w.write(300);
    await waitFor('the first lines', () => out.hasAll(w.written), f);
    w.write(200); // maybe only in the copy by the time the forwarder looks
    copyTruncate(live);
    w.write(20); // O_APPEND: written at 0 of the truncated file
    await waitFor('the lines around the first truncation', () => out.hasAll(w.written), f);
    w.write(100);
    copyTruncate(live);
    w.write(1200); // quickly longer than before: the size alone does not show the truncation
    await waitFor('every line', () => out.hasAll(w.written), f);
    await stop(f);
    w.close();
    expectComplete(out, w.written, 0, 'copytruncate while running');
  });

  it('copytruncate while stopped: the copy is finished from the position, the truncated file read from its start', async () => {
    const env = setup();
    const out = new Output(env.out);
    const live = join(env.logs, 'auth-pdp-audit.log');
    const w = new CadfFileWriter(live, { tag: 'ct-stop', random: seededRandom(4) });
    const f = start(env);
    w.write(300);
    await waitFor('the first lines', () => out.hasAll(w.written), f);
    await stop(f);
    w.write(200); // never seen by the first run: only in the copy after the rotation
    copyTruncate(live);
    w.write(1500); // longer than the file was: same inode, bigger size, other first bytes
    const g = start(env);
    await waitFor('every line', () => out.hasAll(w.written), g);
    await stop(g);
    w.close();
    expectComplete(out, w.written, 0, 'copytruncate while stopped');
  });

  it('two rotations while stopped, the older file already read: the newer generation is read whole (rename and copytruncate)', async () => {
    const env = setup();
    const out = new Output(env.out);
    const idpPath = join(env.logs, 'auth-idp-audit.log');
    const pdpPath = join(env.logs, 'auth-pdp-audit.log');
    const idp = new CadfFileWriter(idpPath, { tag: 'twice-idp', random: seededRandom(11) });
    const pdp = new CadfFileWriter(pdpPath, { tag: 'twice-pdp', random: seededRandom(12) });
    const f = start(env);
    idp.write(200);
    pdp.write(200);
    await waitFor('the first files', () => out.hasAll([...idp.written, ...pdp.written]), f);
    await stop(f);
    // The files read whole are rotated twice and gone; the files between them were rotated once.
    renameRotate(idpPath);
    idp.reopen();
    idp.write(150);
    renameRotate(idpPath);
    idp.reopen();
    idp.write(100);
    copyTruncate(pdpPath);
    pdp.write(150);
    copyTruncate(pdpPath);
    pdp.write(100);
    const g = start(env);
    await waitFor('every line', () => out.hasAll([...idp.written, ...pdp.written]), g, 20_000, () =>
      `missing ${[...idp.written, ...pdp.written].filter((id) => !out.count.has(id)).length}`,
    );
    await stop(g);
    idp.close();
    pdp.close();
    expectComplete(out, [...idp.written, ...pdp.written], 0, 'two rotations while stopped');
  });

  it('inode reuse while stopped: a new file with the inode of the deleted one is read from its start', async () => {
    const env = setup();
    const out = new Output(env.out);
    const live = join(env.logs, 'auth-idp-audit.log');
    const old = new CadfFileWriter(live, { tag: 'ino-old', random: seededRandom(5) });
    const f = start(env);
    old.write(200);
    await waitFor('the old file', () => out.hasAll(old.written), f);
    await stop(f);
    old.close();
    const { ino, size } = statSync(live);
    unlinkSync(live);
    // The freed inode is usually handed to the next file created; try a few candidates.
    let reused: string | undefined;
    const candidates: string[] = [];
    for (let k = 0; k < 20 && reused === undefined; k++) {
      const c = join(env.logs, `.candidate-${k}`);
      writeFileSync(c, '');
      candidates.push(c);
      if (statSync(c).ino === ino) reused = c;
    }
    for (const c of candidates) if (c !== reused) unlinkSync(c);
    expect(reused, 'the file system gave no new file the freed inode').toBeDefined();
    renameSync(reused!, live);
    const fresh = new CadfFileWriter(live, { tag: 'ino-new', random: seededRandom(6) });
    fresh.write(400);
    expect(fresh.inode()).toBe(ino);
    expect(statSync(live).size).toBeGreaterThan(size); // not mistakable for a truncation
    const g = start(env);
    await waitFor('the new file', () => out.hasAll(fresh.written), g);
    await stop(g);
    fresh.close();
    expectComplete(out, [...old.written, ...fresh.written], 0, 'inode reuse');
  });

  it('a file deleted while being read is read to its end', async () => {
    const env = setup({ maxEvents: 500, maxInFlight: 4, fsync: false });
    const out = new Output(env.out);
    const live = join(env.logs, 'auth-idp-audit.log');
    const total = 100_000;
    const fd = openSync(live, 'w');
    for (let i = 0; i < total; i += 5000) writeSync(fd, cadfLines('del', i, 5000));
    closeSync(fd);
    const written = Array.from({ length: total }, (_, i) => cadfId('del', i));
    const f = start(env);
    await waitFor('the first lines', () => out.poll().ids.length >= 2000, f);
    unlinkSync(live);
    expect(out.poll().ids.length, 'deleted before it was finished').toBeLessThan(total);
    await waitFor('every line of the deleted file', () => out.hasAll(written), f, 120_000);
    await stop(f);
    expectComplete(out, written, 0, 'deleted while read');
  });

  it('a directory created after the start is picked up, and files created in it later', async () => {
    const env = setup({ paths: ['logs/*-audit.log', 'late/audit/*-audit.log'] });
    const out = new Output(env.out);
    const anchor = new CadfFileWriter(join(env.logs, 'anchor-audit.log'), { tag: 'anchor' });
    anchor.write(5);
    const f = start(env);
    await waitFor('the existing file', () => out.hasAll(anchor.written), f);
    mkdirSync(join(env.dir, 'late/audit'), { recursive: true });
    const pdp = new CadfFileWriter(join(env.dir, 'late/audit/pdp-audit.log'), { tag: 'late-pdp', random: seededRandom(7) });
    pdp.write(300);
    await waitFor('the file in the new directory', () => out.hasAll(pdp.written), f);
    const idp = new CadfFileWriter(join(env.dir, 'late/audit/platform-identity-management-audit.log'), { tag: 'late-idp', random: seededRandom(8) });
    idp.write(200);
    pdp.write(100);
    await waitFor('every line', () => out.hasAll([...pdp.written, ...idp.written]), f);
    await stop(f);
    for (const w of [anchor, pdp, idp]) w.close();
    expectComplete(out, [...anchor.written, ...pdp.written, ...idp.written], 0, 'directory created later');
  });

  it('several files written interleaved: every line, each file in its own order', async () => {
    const env = setup();
    const out = new Output(env.out);
    const random = seededRandom(9);
    const writers = ['auth-idp', 'auth-pdp', 'iam', 'directory'].map(
      (s) => new CadfFileWriter(join(env.logs, `${s}-audit.log`), { tag: `mix-${s}`, random, maxBurst: 25 }),
    );
    writers[0]!.write(50);
    const f = start(env);
    for (let k = 0; k < 120; k++) {
      writers[Math.floor(random() * writers.length)]!.burst();
      if (k % 10 === 0) await pause(random() * 30);
    }
    const written = writers.flatMap((w) => w.written);
    await waitFor('every line', () => out.hasAll(written), f);
    await stop(f);
    for (const w of writers) w.close();
    expectComplete(out, written, 0, 'interleaved');
    for (const w of writers) {
      const order = out.ids.filter((id) => id.startsWith(`${w.tag}-`));
      expect(order, `order of ${w.tag}`).toEqual(w.written);
    }
  });

  it('bad lines of every kind are dead-lettered with their place and reason, the lines around them delivered', async () => {
    const env = setup();
    const out = new Output(env.out);
    const live = join(env.logs, 'auth-idp-audit.log');
    const w = new CadfFileWriter(live, { tag: 'bad', random: seededRandom(10) });
    const bad: { offset: number; line: number; kind: string; reason: RegExp }[] = [];
    let lines = 0;
    const good = (n: number) => {
      w.write(n);
      lines += n;
    };
    const badLine = (kind: string, reason: RegExp, data: Buffer | string) => {
      bad.push({ offset: statSync(live).size, line: lines + 1, kind, reason });
      w.raw(data);
      lines++;
    };
    good(20);
    w.raw('\n\r\n'); // blank lines: nothing to deliver, nothing to dead-letter
    lines += 2;
    good(5);
    badLine('not JSON', /JSON/i, 'this is not JSON {"id": \n');
    badLine('truncated JSON', /JSON/i, `${cadfLine('bad', 9999).slice(0, 200)}\n`);
    good(5);
    badLine('JSON but not an object', /CADF|object|array/i, '[1,2,3]\n');
    badLine('JSON string', /CADF|object|string/i, '"just a string"\n');
    badLine('JSON object, not a record', /eventTime|CADF|required/i, '{"hello":"world"}\n');
    badLine('record without a zone in eventTime', /eventTime|zone/i, '{"id":"no-zone","eventTime":"2026-03-01 08:00:00","action":"read","outcome":"success"}\n');
    badLine('record with an unknown outcome', /outcome/i, '{"id":"odd-outcome","eventTime":"2026-03-01T08:00:00Z","action":"read","outcome":"maybe"}\n');
    good(5);
    badLine(
      'invalid UTF-8',
      /UTF-?8/i,
      Buffer.concat([Buffer.from('{"id":"bad-utf8","eventTime":"2026-03-01T08:00:00Z","action":"read","outcome":"success","message":"'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('"}\n')]),
    );
    good(5);
    const huge = `{"id":"too-long","eventTime":"2026-03-01T08:00:00Z","action":"read","outcome":"success","message":"${'x'.repeat(3 * 1024 * 1024)}"}\n`;
    badLine('3 MB line (maxLineBytes 1 MiB)', /maxLineBytes|too long|longer/i, huge);
    good(20);
    const partial = cadfLine('bad', 5000);
    w.raw(partial.slice(0, 180)); // a writer that has not finished its line

    const f = start(env);
    const before = [...w.written];
    await waitFor('the good lines before the partial line', () => out.hasAll(before), f);
    await waitFor('every bad line in the dead-letter file', () => deadLetters(env.dlq).length >= bad.length, f);
    expect(out.count.has(cadfId('bad', 5000)), 'the partial line was delivered before it was complete').toBe(false);
    w.raw(partial.slice(180));
    w.write(30);
    await waitFor('the completed line and the lines after it', () => out.hasAll([...w.written, cadfId('bad', 5000)]), f);
    await stop(f);
    w.close();

    expectComplete(out, [...w.written, cadfId('bad', 5000)], 0, 'bad lines');
    const entries = deadLetters(env.dlq);
    expect(entries.map((e) => e.locator)).toEqual(bad.map((b) => `${live}:${b.line}`));
    for (const [k, b] of bad.entries()) {
      const e = entries[k]!;
      const text = `${e.path ?? ''} ${e.reason}`;
      expect(e.stage, b.kind).toBe('decode');
      expect(text, `${b.kind}: the reason says why`).toMatch(b.reason);
      expect(text, `${b.kind}: the reason names the byte offset`).toContain(String(b.offset));
    }
    // The raw text is kept for redriving, except for the line too long to keep.
    expect(entries.find((e) => e.locator === `${live}:${bad.find((b) => b.kind === 'not JSON')!.line}`)?.raw).toBe('this is not JSON {"id": ');
  });

  it('SIGKILL at random points while lines are appended and rotated: after a restart every complete line is delivered', async () => {
    const seed = Number(process.env.KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const random = seededRandom(seed);
    const rounds = 12;
    const maxEvents = 50;
    const env = setup({ maxEvents });
    const out = new Output(env.out);
    const note = `seed ${seed} (rerun with KILL_SEED=${seed})`;

    interface Stream {
      readonly writer: CadfFileWriter;
      readonly rotation: 'rename' | 'copytruncate';
      current: string[];
      generation1: string[];
    }
    const streams: Stream[] = (
      [
        ['auth-idp', 'rename'],
        ['auth-pdp', 'copytruncate'],
      ] as const
    ).map(([svc, rotation]) => ({
      writer: new CadfFileWriter(join(env.logs, `${svc}-audit.log`), { tag: `kill-${svc}`, random, maxBurst: 30 }),
      rotation,
      current: [],
      generation1: [],
    }));
    let rotations = 0;
    const rotate = (s: Stream) => {
      // Only one generation is kept: the previous `.1` goes. Rotating before it was delivered would lose
      // lines by the test's own doing (a file rotated twice while unread cannot be read).
      if (!out.hasAll(s.generation1)) return;
      const live = s.writer.path;
      if (s.rotation === 'copytruncate') {
        copyTruncate(live);
        s.generation1 = s.current;
        s.current = [];
      } else {
        renameRotate(live);
        s.generation1 = s.current;
        s.current = [];
        if (random() < 0.5) s.generation1.push(...s.writer.burst()); // written before the service reopens
        s.writer.reopen();
      }
      rotations++;
    };

    // A first clean run: both files have a committed position before the chaos (a file rotated away before
    // the forwarder ever committed a position in it is another case).
    for (const s of streams) s.current.push(...s.writer.write(20));
    const warm = start(env);
    await waitFor('the first lines of both files', () => out.hasAll(streams.flatMap((s) => s.current)), warm);
    await stop(warm);

    let writing = true;
    const writerLoop = (async () => {
      while (writing) {
        const s = streams[Math.floor(random() * streams.length)]!;
        s.current.push(...s.writer.burst());
        if (random() < 0.04) rotate(s);
        await pause(random() * 12);
      }
    })();

    // After each stop: the lines the saved checkpoint covers (read from the files it names, right after the
    // kill: the writer runs in this thread, so nothing rotates in between) and how many lines the output had.
    // A restart may deliver again only lines the checkpoint did not cover.
    const boundaries: { covered: ReadonlySet<string>; end: number }[] = [];
    const mark = () => boundaries.push({ covered: coveredIds(env), end: out.poll().ids.length });
    mark();
    try {
      for (let round = 0; round < rounds; round++) {
        const f = start(env);
        await pause(150 + random() * 1200);
        await kill(f);
        mark();
        if (random() < 0.5) await pause(random() * 400); // stopped for a while: the writer goes on, and may rotate
      }
      writing = false;
      await writerLoop;
      const written = streams.flatMap((s) => s.writer.written);
      const last = start(env);
      const missing = () => {
        const lost = written.filter((id) => !out.count.has(id));
        const where = readdirSync(env.logs).map((name) => {
          const text = readFileSync(join(env.logs, name), 'utf8');
          return `${name}: ${statSync(join(env.logs, name)).size} bytes, ${lost.filter((id) => text.includes(`"id":"${id}"`)).length} lost lines`;
        });
        return `${lost.length} missing, first ${lost.slice(0, 8).join(' ')}; where they are now: ${where.join('; ')}`;
      };
      await waitFor(`every line (${note})`, () => out.hasAll(written), last, 60_000, missing);
      await stop(last);
      for (const s of streams) s.writer.close();

      expect(rotations, `${note}: the scenario rotated`).toBeGreaterThan(0);
      expectComplete(out, written, out.ids.length, note);
      expect(boundaries.filter((b) => b.covered.size > 0).length, `${note}: checkpoints were read`).toBeGreaterThan(rounds / 2);
      const delivered = new Set<string>();
      let from = 0;
      for (const [k, b] of boundaries.entries()) {
        const next = boundaries[k + 1]?.end ?? out.ids.length;
        for (const id of out.ids.slice(from, b.end)) delivered.add(id);
        const notDelivered = [...b.covered].filter((id) => !delivered.has(id));
        expect(notDelivered.slice(0, 5), `${note}: run ${k} committed only what it delivered`).toEqual([]);
        const again = out.ids.slice(b.end, next).filter((id) => b.covered.has(id));
        expect(again.slice(0, 5), `${note}: run ${k + 1} delivered again ids the checkpoint had covered`).toEqual([]);
        from = b.end;
      }
    } catch (error) {
      writing = false;
      await writerLoop;
      dirs.splice(dirs.indexOf(env.dir), 1); // kept for the diagnosis
      throw new Error(`${note} (files kept in ${env.dir}): ${(error as Error).message}`, { cause: error });
    }
  }, 180_000);

  it('a 1 GB file (BIG_FILE_MB) is delivered whole', async () => {
    const megabytes = Number(process.env.BIG_FILE_MB ?? 1024);
    const env = setup({ maxEvents: 1000, maxInFlight: 4, fsync: false });
    const live = join(env.logs, 'big-audit.log');
    const started = Date.now();
    // One ~1 MiB block of lines, written again and again with each line's id digits replaced by a counter.
    const perBlock = 2300;
    const block = Buffer.from(cadfLines('big', 0, perBlock));
    const idOffsets: number[] = [];
    for (let at = 0; at !== -1 && at < block.length; at = block.indexOf(10, at) + 1 || -1) idOffsets.push(at + '{"id":"big-'.length);
    expect(idOffsets).toHaveLength(perBlock);
    const blocks = Math.max(1, Math.round((megabytes * 1024 * 1024) / block.length));
    const total = blocks * perBlock;
    const fd = openSync(live, 'w');
    for (let b = 0; b < blocks; b++) {
      for (let j = 0; j < perBlock; j++) block.write(String(b * perBlock + j).padStart(9, '0'), idOffsets[j]!, 'latin1');
      writeSync(fd, block);
    }
    closeSync(fd);
    const generated = Date.now();

    // The output is read as it grows, ids marked in a bitmap: it is too big to hold as text.
    const seen = new Uint8Array(total);
    let unique = 0;
    let duplicates = 0;
    let offset = 0;
    let rest: Buffer = Buffer.alloc(0);
    const marker = Buffer.from('"id":"big-');
    const buf = Buffer.allocUnsafe(16 << 20);
    const pollOutput = () => {
      if (!existsSync(env.out)) return;
      const out = openSync(env.out, 'r');
      try {
        for (;;) {
          const n = readSync(out, buf, 0, buf.length, offset);
          if (n === 0) break;
          offset += n;
          const data = rest.length > 0 ? Buffer.concat([rest, buf.subarray(0, n)]) : buf.subarray(0, n);
          let at = 0;
          for (let nl = data.indexOf(10, at); nl !== -1; nl = data.indexOf(10, at)) {
            const m = data.indexOf(marker, at);
            if (m === -1 || m > nl) throw new Error(`an output line without a big- id at output offset ${offset - n}`);
            const i = Number(data.toString('latin1', m + marker.length, m + marker.length + 9));
            if (seen[i] === 0) unique++;
            else duplicates++;
            seen[i] = 1;
            at = nl + 1;
          }
          rest = Buffer.from(data.subarray(at));
        }
      } finally {
        closeSync(out);
      }
    };

    const f = start(env);
    await waitFor(`${total} lines`, () => (pollOutput(), unique === total), f, 600_000);
    const delivered = Date.now();
    await stop(f);
    pollOutput();
    expect(unique).toBe(total);
    expect(duplicates).toBe(0);
    console.info(
      `audit-files e2e: ${megabytes} MB file (${total} lines) generated in ${((generated - started) / 1000).toFixed(1)} s, ` +
        `delivered through the CLI in ${((delivered - generated) / 1000).toFixed(1)} s`,
    );
  }, 660_000);
});

/** The running total of records the saved checkpoint covers (0 before the first save). */
/**
 * The ids of the lines the saved checkpoint covers: for each file of its position, the lines before its
 * offset, in the file on disk with its identity (same inode and first bytes, or a copy with those bytes).
 */
function coveredIds(env: Env): Set<string> {
  const file = join(env.dir, `state/checkpoints/routes/${ROUTE}.checkpoint.json`);
  const covered = new Set<string>();
  if (!existsSync(file)) return covered;
  const c = JSON.parse(readFileSync(file, 'utf8')) as { sinks: { archive?: { position: { file: FileState; others: FileState[] } } } };
  const position = c.sinks.archive?.position;
  if (position === undefined) return covered;
  const onDisk = readdirSync(env.logs).map((name) => {
    const path = join(env.logs, name);
    return { path, ino: statSync(path).ino, bytes: readFileSync(path) };
  });
  for (const state of [position.file, ...position.others]) {
    const matches = (f: { bytes: Buffer }) => f.bytes.length >= state.fpLength && fingerprint(f.bytes.subarray(0, state.fpLength)) === state.fp;
    const found = onDisk.find((f) => f.ino === state.ino && matches(f)) ?? onDisk.find(matches);
    if (found === undefined) continue;
    for (const line of found.bytes.subarray(0, state.offset).toString('utf8').split('\n')) {
      const id = /^\{"id":"([^"]+)"/.exec(line)?.[1];
      if (id !== undefined) covered.add(id);
    }
  }
  return covered;
}

interface DeadLetter {
  readonly stage: string;
  readonly reason: string;
  readonly path?: string;
  readonly locator?: string;
  readonly raw?: string;
}

/** The whole lines of the dead-letter file. */
function deadLetters(file: string): DeadLetter[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .slice(0, -1)
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as DeadLetter);
}
