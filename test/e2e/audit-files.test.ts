// End to end: the `audit-files` source in the CLI as a child process, through rotations, restarts, kills and bad lines.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statSync, truncateSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fingerprint, type FileState } from '../../connectors/audit-files/identity.ts';
import { CadfFileWriter, cadfId, cadfLine, cadfLines, seededRandom } from '../support/cadf-lines.ts';
import {
  cleanUp,
  copyTruncate,
  expectComplete,
  keep,
  kill,
  Output,
  pause,
  renameRotate,
  ROUTE,
  setup,
  start,
  stop,
  waitFor,
  type Env,
} from '../support/audit-files-harness.ts';

afterAll(cleanUp);

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

  it('inode reuse while stopped: the same inode with other content, longer than the checkpoint, is read from its start', async () => {
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
    // What the source sees of a reused inode is the same device and inode, a size beyond the checkpoint and
    // different bytes. Deleting the file and waiting for the file system to hand its inode to a new one is not
    // reliable (tmpfs and overlayfs never reuse numbers, and on ext4 another process running at the same time
    // may take it), so the same inode gets new content from its start while stopped: truncated, then written longer.
    truncateSync(live, 0);
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
      keep(env.dir); // kept for the diagnosis
      throw new Error(`${note} (files kept in ${env.dir}): ${(error as Error).message}`, { cause: error });
    }
  }, 180_000);
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
