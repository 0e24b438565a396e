// The top functions of a V8 CPU profile by self time, as the rows of a Markdown table (docs/performance.md).
//
//   node bench/cpu-profile-summary.ts PROFILE.cpuprofile [N=16]
//
// Idle time is left out of the total. Native frames without a name (Buffer writes, JSON.parse …) are counted under
// the function that called them, as "<caller> (native)". Profiles come from `BENCH_CPU_PROF=DIR npm run bench --
// process` (node --cpu-prof for the forwarder of each variant) or from `node --cpu-prof`.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const [file, count = '16'] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node bench/cpu-profile-summary.ts PROFILE.cpuprofile [N]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const name = (n: ProfileNode | undefined): string =>
  n === undefined ? '(root)' : `${n.callFrame.functionName || '(anonymous)'}${n.callFrame.url ? ` ${n.callFrame.url.split('/').slice(-2).join('/')}` : ''}`;

const selfTime = new Map<string, number>();
let busy = 0;
let idle = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  const t = profile.timeDeltas[i] ?? 0;
  const node = byId.get(id);
  let key = name(node);
  if (key === '(idle)') {
    idle += t;
    continue;
  }
  if (key === '(anonymous)') key = `${name(byId.get(parentOf.get(id) ?? -1))} (native)`;
  selfTime.set(key, (selfTime.get(key) ?? 0) + t);
  busy += t;
}
console.log(`${file}: ${(busy / 1000).toFixed(0)} ms busy, ${(idle / 1000).toFixed(0)} ms idle\n`);
console.log('| function (self time) | share of busy time |\n|---|---|');
for (const [key, t] of [...selfTime].sort((a, b) => b[1] - a[1]).slice(0, Number(count))) {
  console.log(`| \`${key}\` | ${((t / busy) * 100).toFixed(1)} % |`);
}
