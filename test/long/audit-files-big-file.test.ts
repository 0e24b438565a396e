// Long run (npm run test:long): a 1 GB audit file through the CLI, every line delivered once.
import { closeSync, existsSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cadfLines } from '../support/cadf-lines.ts';
import { cleanUp, setup, start, stop, waitFor } from '../support/audit-files-harness.ts';

afterAll(cleanUp);

describe('audit-files source, long', () => {
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
