// Discovery for the audit-files source: the live files the patterns match, the generations beside them, directory watches, the scan.
import { watch, type FSWatcher } from 'node:fs';
import { glob, open, stat, type FileHandle } from 'node:fs/promises';
import { dirname, matchesGlob, resolve } from 'node:path';
import type { Logger } from '../../src/logging.ts';
import { matchFiles as matchPatterns, patternDir } from '../../src/util/match-files.ts';
import { parseGeneration } from './identity.ts';
import { checkTruncation, followRename } from './rotation.ts';
import type { FileTracker, TrackedFile } from './tracker.ts';

/** Finds and opens the files of a source's patterns; shared by its reads. */
export class Discovery {
  /** Absolute patterns of the live files. */
  readonly patterns: readonly string[];
  readonly #logger: Logger;
  /** Files that could not be opened, warned about once until they open. */
  readonly #warned = new Set<string>();

  constructor(patterns: readonly string[], logger: Logger) {
    this.patterns = patterns;
    this.#logger = logger;
  }

  /** Live files: what the patterns match now. */
  listLive(): Promise<string[]> {
    return matchPatterns(this.patterns);
  }

  /** Rotated generations beside the live files (or beside where a pattern's live file would be), oldest first. */
  async listGenerations(bases: readonly string[], live: ReadonlySet<string>): Promise<string[]> {
    const found = new Map<string, string>();
    for (const base of bases) {
      for (const suffix of ['.*', '-*']) {
        for await (const f of glob(`${base}${suffix}`)) {
          const path = resolve(f);
          if (live.has(path) || found.has(path)) continue;
          const g = parseGeneration(path);
          if (g === undefined || !(g.base === base || matchesGlob(g.base, base))) continue;
          const s = await stat(path).catch(() => undefined);
          if (s?.isFile()) found.set(path, `${g.base}\u0000${g.age}`);
        }
      }
    }
    return [...found.entries()].sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)).map(([p]) => p);
  }

  /** The generations of the log `path` that exist now, as `dev:ino`. */
  async generationIds(path: string): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const g of await this.listGenerations([path], new Set())) {
      const s = await stat(g).catch(() => undefined);
      if (s !== undefined) ids.add(`${s.dev}:${s.ino}`);
    }
    return ids;
  }

  /** Opens a file for reading; undefined (warned once while it lasts, unless it is gone) when it cannot be. */
  async open(path: string): Promise<FileHandle | undefined> {
    try {
      const fh = await open(path, 'r');
      this.#warned.delete(path);
      return fh;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Gone between listing and opening: a rotation; it is found again (or not) at the next scan.
      if (code !== 'ENOENT' && !this.#warned.has(path)) {
        this.#warned.add(path);
        this.#logger.warn({ path, err: (e as Error).message }, 'cannot open an audit file; retrying at each scan');
      }
      return undefined;
    }
  }
}

/**
 * The directory watches of one live read: `fs.watch` on each directory files may appear in, calling
 * `notify(rescan)` on any change (`rescan` for a name created, renamed or removed). Watches are a hint that
 * shortens the wait: polling alone is correct, so a directory that cannot be watched is only slower.
 */
export class DirectoryWatches {
  readonly #notify: (rescan: boolean) => void;
  /** Every watcher open by the source, for its `close()`. */
  readonly #open: Set<FSWatcher>;
  readonly #watchers = new Map<string, { watcher: FSWatcher; ino: number }>();

  constructor(notify: (rescan: boolean) => void, open: Set<FSWatcher>) {
    this.#notify = notify;
    this.#open = open;
  }

  /** Watches each of `dirs` that exists (again, if it was replaced). */
  async update(dirs: ReadonlySet<string>): Promise<void> {
    for (const dir of dirs) {
      const s = await stat(dir).catch(() => undefined);
      const w = this.#watchers.get(dir);
      if (w !== undefined && (s === undefined || s.ino !== w.ino)) {
        // The directory was removed or replaced: its watch sees nothing any more.
        this.#drop(dir, w.watcher);
      }
      if (s === undefined || !s.isDirectory() || this.#watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, { persistent: false }, (event) => this.#notify(event === 'rename'));
        watcher.on('error', () => this.#drop(dir, watcher));
        this.#watchers.set(dir, { watcher, ino: s.ino });
        this.#open.add(watcher);
      } catch {
        // No watch (limits, unsupported file system): polling alone is correct, only slower.
      }
    }
  }

  close(): void {
    for (const [dir, { watcher }] of this.#watchers) this.#drop(dir, watcher);
  }

  #drop(dir: string, watcher: FSWatcher): void {
    watcher.close();
    this.#open.delete(watcher);
    if (this.#watchers.get(dir)?.watcher === watcher) this.#watchers.delete(dir);
  }
}

/** Finds new, renamed, deleted and truncated files, and watches the directories they may appear in. */
export async function scan(tracker: FileTracker, watches: DirectoryWatches): Promise<void> {
  const discovery = tracker.discovery;
  const seen = new Set<TrackedFile>();
  for (const path of await discovery.listLive()) {
    const s = await stat(path).catch(() => undefined);
    if (s === undefined) continue;
    let t = tracker.find(s.dev, s.ino);
    if (t === undefined) {
      const fh = await discovery.open(path);
      if (fh === undefined) continue;
      const fs = await fh.stat();
      t = tracker.find(fs.dev, fs.ino);
      if (t !== undefined) await fh.close();
      else t = await tracker.track(fh, { path, dev: fs.dev, ino: fs.ino, gz: false, live: true }, { offset: 0, line: 0 }, tracker.contexts.forPath(path));
    }
    t.path = path;
    t.live = true;
    seen.add(t);
  }
  for (const t of tracker.files) {
    if (t.live && !seen.has(t)) {
      // Renamed away or deleted: the open descriptor is read to its end before the file is left.
      t.live = false;
      t.idleSince = undefined;
      tracker.counters.rotations_total++;
      await followRename(tracker, t);
    }
  }
  for (const t of [...tracker.files]) if (t.live && !t.gz) await checkTruncation(tracker, t);
  const dirs = new Set(discovery.patterns.map(patternDir));
  for (const t of tracker.files) if (t.live) dirs.add(dirname(t.path));
  await watches.update(dirs);
}
