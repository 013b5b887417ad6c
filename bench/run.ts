/**
 * `npm run bench`: every benchmark, each writing JSON (never a timed test).
 *
 *   npm run bench -- simulator                  only the named ones (quality runs only when named)
 *   npm run bench -- gateway --out DIR          where the JSON goes (default bench/out/, git-ignored);
 *                                               --out bench/results replaces the committed results
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { execSync } from 'node:child_process';
import { benchSimulator } from './sim.ts';
import { benchTraining, benchTrainingRuns } from './train.ts';
import { benchTrainingProfile } from './train-profile.ts';
import { benchJournal, benchLive } from './live.ts';
import { measureAgreement } from './agreement.ts';
import { benchGateway } from './gateway.ts';
import { benchBarrage } from './barrage.ts';
import { benchCluster } from './cluster.ts';
import { benchQuality } from './quality.ts';

const benches: Record<string, () => Record<string, unknown> | Promise<Record<string, unknown>>> = {
  simulator: () => benchSimulator(Number(process.env.BENCH_SECONDS ?? 5)),
  training: () => benchTraining(),
  'training-profile': () => benchTrainingProfile(),
  'training-runs': () => benchTrainingRuns(),
  live: () => benchLive(),
  journal: () => benchJournal(),
  cluster: () => benchCluster(),
  quality: () => benchQuality(),
  agreement: () => measureAgreement(Number(process.env.BENCH_AGREEMENT_SECONDS ?? 60)),
  barrage: () => benchBarrage({ floodSeconds: Number(process.env.BENCH_FLOOD_SECONDS ?? 60) }),
  gateway: () => benchGateway({ seconds: Number(process.env.BENCH_GATEWAY_SECONDS ?? 60), coldRuns: 3 }),
};

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const outArg = outAt >= 0 ? args[outAt + 1] : undefined;
if (outAt >= 0 && (!outArg || outArg.startsWith('--'))) {
  console.error('bench: --out needs a folder');
  process.exit(2);
}
const resultsDir = outArg ?? join(dirname(fileURLToPath(import.meta.url)), 'out');
mkdirSync(resultsDir, { recursive: true });
const wanted = outAt < 0 ? args : args.filter((_, k) => k !== outAt && k !== outAt + 1);
const unknown = wanted.filter((name) => !(name in benches));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
let commit = 'unknown';
try {
  commit = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
} catch {
  // not a git checkout: keep "unknown"
}
// hours at its default (trains 24 quick runs: 12 to tune, 12 to compare): run only when named
const onlyWhenNamed = new Set(['quality']);
for (const [name, run] of Object.entries(benches)) {
  if (wanted.length > 0 ? !wanted.includes(name) : onlyWhenNamed.has(name)) continue;
  const result = {
    ...(await run()),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version },
    commit,
    at: new Date().toISOString(),
  };
  const file = join(resultsDir, `${String((result as Record<string, unknown>).name ?? name)}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result, null, 2));
  console.log(`wrote ${file}`);
}
