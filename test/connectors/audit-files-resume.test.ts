// Resume planning of the audit-files source without a file system: a checkpoint's file states against the files on disk.
import { describe, expect, it } from 'vitest';
import { fingerprint, prefixLength, type FileState } from '../../connectors/audit-files/identity.ts';
import { planResume, type ResumeCandidate, type ResumePlan } from '../../connectors/audit-files/resume.ts';

const LOG = '/l/a-audit.log';
/** Bytes a state's fingerprint covers in these cases. */
const FP = 16;

/** The state of a file holding `content`, read up to `offset`. */
function state(path: string, ino: number, content: string, offset: number, line = 3): FileState {
  const first = Buffer.from(content).subarray(0, FP);
  return { path, dev: 1, ino, fp: fingerprint(first), fpLength: first.length, offset, line, ...(path.endsWith('.gz') ? { gz: true as const } : {}) };
}

/** A file on disk holding `content` (of which the first bytes are read, as `restore` does). */
function file(path: string, ino: number, content: string, size = Buffer.byteLength(content)): ResumeCandidate {
  return { path, dev: 1, ino, gz: path.endsWith('.gz'), live: path === LOG || path === '/l/b-audit.log', size, prefix: Buffer.from(content).subarray(0, FP) };
}

const OLD = '{"id":"e-1","eventTime":"2026-03-14T08:00:01Z"}\n{"id":"e-2"}\n';
const NEW = '{"id":"e-9","eventTime":"2026-03-14T09:00:00Z"}\n';
const OTHER = '{"id":"x-5","eventTime":"2026-03-14T07:00:00Z"}\n';

/** The plan as `[path, from, as, truncated?, renamed?]` per file read, with the lost states' paths. */
function show(plan: ResumePlan, candidates: readonly ResumeCandidate[]) {
  return {
    read: plan.files.map((f) => [candidates[f.index]!.path, f.start.offset, f.as, ...(f.truncated ? ['truncated'] : []), ...(f.renamed ? ['renamed'] : [])]),
    lost: plan.lost.map((s) => s.path),
  };
}

describe('planResume', () => {
  it('without a position: the live files from their start; generations only in a replay', () => {
    const candidates = [file(`${LOG}.1`, 11, OTHER), file(LOG, 10, OLD)];
    expect(show(planResume([], candidates, false), candidates)).toEqual({ read: [[LOG, 0, 'new file']], lost: [] });
    expect(show(planResume([], candidates, true), candidates)).toEqual({
      read: [
        [`${LOG}.1`, 0, 'generation written since'],
        [LOG, 0, 'new file'],
      ],
      lost: [],
    });
  });

  it('the same file (device, inode and first bytes) goes on from its offset and line', () => {
    const s = state(LOG, 10, OLD, 50, 1);
    const candidates = [file(LOG, 10, OLD)];
    const plan = planResume([s], candidates, false);
    expect(show(plan, candidates)).toEqual({ read: [[LOG, 50, LOG]], lost: [] });
    // The state itself: its fingerprint is kept, not read again.
    expect(plan.files[0]!.start).toBe(s);
  });

  it('a rename rotation: the rest from the generation, the new live file whole, an older unknown generation not at all', () => {
    const candidates = [file(`${LOG}.2`, 12, OTHER), file(`${LOG}.1`, 10, OLD), file(LOG, 11, NEW)];
    const plan = planResume([state(LOG, 10, OLD, 50)], candidates, false);
    expect(show(plan, candidates)).toEqual({
      read: [
        [`${LOG}.1`, 50, LOG, 'renamed'],
        [LOG, 0, 'new file'],
      ],
      lost: [],
    });
  });

  it('rotated twice while stopped: a generation newer than the known one is read whole', () => {
    const candidates = [file(`${LOG}.3`, 13, OTHER), file(`${LOG}.2`, 10, OLD), file(`${LOG}.1`, 14, NEW), file(LOG, 15, NEW)];
    expect(show(planResume([state(LOG, 10, OLD, 50)], candidates, false), candidates).read).toEqual([
      [`${LOG}.2`, 50, LOG, 'renamed'],
      [`${LOG}.1`, 0, 'generation written since'],
      [LOG, 0, 'new file'],
    ]);
  });

  it('every known file of a log gone: its unknown generations are read whole, the state is lost; another log is not affected', () => {
    const b = '/l/b-audit.log';
    const candidates = [file(`${LOG}.2`, 20, NEW), file(`${LOG}.1`, 21, NEW), file(`${b}.1`, 30, OTHER), file(b, 31, OLD), file(LOG, 22, NEW)];
    const states = [state(LOG, 10, 'gone for good: never seen again\n', 80), state(b, 31, OLD, 40)];
    expect(show(planResume(states, candidates, false), candidates)).toEqual({
      read: [
        [`${LOG}.2`, 0, 'generation written since'],
        [`${LOG}.1`, 0, 'generation written since'],
        [b, 40, b],
        [LOG, 0, 'new file'],
      ],
      lost: [LOG],
    });
  });

  it('inode reuse: the same device and inode with other first bytes is a new file, and the old state is lost', () => {
    const candidates = [file(LOG, 10, NEW, 4000)];
    expect(show(planResume([state(LOG, 10, OLD, 50)], candidates, false), candidates)).toEqual({ read: [[LOG, 0, 'new file']], lost: [LOG] });
  });

  it('copytruncate while stopped: the copy goes on from the offset, the truncated file is read from its start', () => {
    const candidates = [file(`${LOG}.1`, 12, OLD), file(LOG, 10, NEW)];
    expect(show(planResume([state(LOG, 10, OLD, 60)], candidates, false), candidates)).toEqual({
      read: [
        [`${LOG}.1`, 60, LOG, 'renamed'],
        [LOG, 0, 'new file'],
      ],
      lost: [],
    });
  });

  it('a plain file shorter than what was read with the same first bytes was truncated and rewritten alike: from 0', () => {
    const candidates = [file(LOG, 10, OLD, 40)];
    const plan = planResume([state(LOG, 10, OLD, 60, 2)], candidates, false);
    expect(show(plan, candidates).read).toEqual([[LOG, 0, LOG, 'truncated']]);
    expect(plan.files[0]!.start).toEqual({ offset: 0, line: 0 });
  });

  it('a compressed generation goes on from the offset in decompressed bytes, whatever its size on disk', () => {
    const candidates = [file(`${LOG}.1.gz`, 12, OLD, 30), file(LOG, 11, NEW)];
    expect(show(planResume([state(LOG, 10, OLD, 60)], candidates, false), candidates).read).toEqual([
      [`${LOG}.1.gz`, 60, LOG, 'renamed'],
      [LOG, 0, 'new file'],
    ]);
  });

  it('each candidate continues at most one state; by inode first, then by first bytes', () => {
    // Two states with the same first bytes (a file and the copy made of it): each keeps its own inode.
    const states = [state(`${LOG}.1`, 12, OLD, 55), state(LOG, 10, OLD, 30)];
    const candidates = [file(`${LOG}.1`, 12, OLD), file(LOG, 10, OLD)];
    expect(show(planResume(states, candidates, false), candidates).read).toEqual([
      [`${LOG}.1`, 55, `${LOG}.1`],
      [LOG, 30, LOG],
    ]);
    // One state, two files starting alike under other inodes: the first (oldest) continues it.
    const copies = [file(`${LOG}.2`, 20, OLD), file(`${LOG}.1`, 21, OLD), file(LOG, 22, NEW)];
    expect(show(planResume([state(LOG, 10, OLD, 30)], copies, false), copies).read).toEqual([
      [`${LOG}.2`, 30, LOG, 'renamed'],
      [`${LOG}.1`, 0, 'generation written since'],
      [LOG, 0, 'new file'],
    ]);
  });

  it('a state with an empty fingerprint is found by its inode only', () => {
    const empty: FileState = { path: LOG, dev: 1, ino: 10, fp: fingerprint(Buffer.alloc(0)), fpLength: 0, offset: 0, line: 0 };
    const byInode = [file(LOG, 10, NEW)];
    expect(show(planResume([empty], byInode, false), byInode)).toEqual({ read: [[LOG, 0, LOG]], lost: [] });
    const elsewhere = [file(`${LOG}.1`, 12, OLD), file(LOG, 11, NEW)];
    expect(show(planResume([empty], elsewhere, false), elsewhere)).toEqual({
      read: [
        [`${LOG}.1`, 0, 'generation written since'],
        [LOG, 0, 'new file'],
      ],
      lost: [LOG],
    });
  });

  it('a file shorter than a fingerprint does not match it', () => {
    const candidates = [file(LOG, 10, OLD.slice(0, FP - 4))];
    expect(show(planResume([state(LOG, 10, OLD, 50)], candidates, false), candidates)).toEqual({ read: [[LOG, 0, 'new file']], lost: [LOG] });
  });

  it('in a replay, generations the position does not know are read whole too', () => {
    const candidates = [file(`${LOG}.2`, 12, OTHER), file(`${LOG}.1`, 10, OLD), file(LOG, 11, NEW)];
    expect(show(planResume([state(LOG, 10, OLD, 50)], candidates, true), candidates).read).toEqual([
      [`${LOG}.2`, 0, 'generation written since'],
      [`${LOG}.1`, 50, LOG, 'renamed'],
      [LOG, 0, 'new file'],
    ]);
  });

  it('candidates need as many first bytes as the longest fingerprint', () => {
    expect(prefixLength([])).toBe(0);
    expect(prefixLength([state(LOG, 10, OLD, 1), { ...state(LOG, 11, NEW, 1), fpLength: 40 }])).toBe(40);
  });
});
