// `npm run bench`: runs every benchmark of bench/ and prints events/s, MB/s and peak RSS for each.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = import.meta.dirname;
const only = process.argv[2];
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts') && (only === undefined || f.includes(only)))
  .sort();
let failed = false;
for (const file of benches) {
  // Each benchmark runs in its own process so that its peak RSS is its own.
  const r = spawnSync(process.execPath, [join(dir, file)], { stdio: 'inherit' });
  failed ||= r.status !== 0;
}
process.exitCode = failed ? 1 : 0;
