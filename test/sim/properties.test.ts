// Properties of the simulator: conservation of tasks and determinism of seeds.
import t from 'tap';
import { createHash } from 'node:crypto';
import { loadScenario } from '../../core/scenario/load.ts';
import { Rng } from '../../core/rng.ts';
import { World } from '../../sim/world.ts';
import { GmelParallelEnv } from '../../sim/env.ts';
import { createHeuristic, HEURISTIC_NAMES } from '../../sim/policies/heuristics.ts';

const variants = [
  { name: 'gmel2024', overrides: { ieds: 20 } },
  { name: 'gmel2024', overrides: { ieds: 20, 'arrivals.probability': 0.9 } },
  { name: 'gmel2024', overrides: { ieds: 20, 'arrivals.process': 'poisson', 'arrivals.probability': 1.5 } },
  { name: 'gmel2024-paper', overrides: { ieds: 20 } },
  { name: 'tang2020', overrides: { ieds: 20 } },
  { name: 'tang2020', overrides: { ieds: 20, 'arrivals.process': 'poisson', 'arrivals.probability': 1.2 } },
];

t.test('conservation: every arrived task ends completed or dropped exactly once', async (t) => {
  for (const v of variants) {
    const scenario = loadScenario(v.name, v.overrides);
    for (const policyName of HEURISTIC_NAMES) {
      const world = new World(scenario);
      const policy = createHeuristic(policyName, new Rng(3));
      const actions = new Int32Array(scenario.ieds);
      world.reset(11);
      const decided = new Set<string>();
      const credited = new Set<string>();
      let duplicates = 0;
      let done = false;
      while (!done) {
        for (let i = 0; i < world.I; i++) if (world.currentTask[i] !== -1) decided.add(`${i}@${world.slot}`);
        policy.act(world, actions);
        done = world.step(actions);
        for (let k = 0; k < world.credits.count; k++) {
          const key = `${world.credits.ied[k]}@${world.credits.slot[k]}`;
          if (credited.has(key)) duplicates++;
          credited.add(key);
        }
      }
      const s = world.metrics.summary();
      const label = `${v.name} ${JSON.stringify(v.overrides)} ${policyName}`;
      t.equal(s.arrived, s.completed + s.dropped.total, `${label}: arrived = completed + dropped`);
      t.equal(duplicates, 0, `${label}: no task credited twice`);
      // every decided task was credited; tasks never decided (Poisson backlog) were dropped while pending
      t.ok([...decided].every((key) => credited.has(key)), `${label}: every decision gets its credit`);
      t.equal(credited.size + s.dropped.pending, s.arrived, `${label}: credits + pending drops = arrivals`);
      t.equal(world.unresolved, 0, `${label}: nothing left in flight`);
      t.equal(world.pool.live, countLinked(world), `${label}: no task leaked from the pool`);
    }
  }
});

/** Tasks still held by the pool must all be resolved leftovers linked in some queue. */
function countLinked(world: World): number {
  let n = 0;
  for (let id = 0; id < world.pool.capacity; id++) if (world.pool.linked[id] === 1 && world.pool.resolved[id] === 1) n++;
  return n;
}

function traceHash(scenarioName: string, seed: number, overrides: Record<string, unknown> = {}): string {
  const env = new GmelParallelEnv(loadScenario(scenarioName, { ieds: 10, ...overrides }));
  const rng = new Rng(5);
  const hash = createHash('sha256');
  let v = env.resetVector(seed);
  const actions = new Int32Array(10);
  for (;;) {
    hash.update(new Uint8Array(v.observations.buffer.slice(0)));
    for (let k = 0; k < v.creditCount; k++) hash.update(`${v.creditIed[k]},${v.creditSlot[k]},${v.creditReward[k]};`);
    if (v.done) break;
    for (let i = 0; i < 10; i++) actions[i] = rng.int(env.world.M + 1);
    v = env.stepVector(actions);
  }
  return hash.digest('hex');
}

t.test('determinism: same seed → identical trace; another seed → another', async (t) => {
  for (const name of ['gmel2024', 'gmel2024-paper', 'tang2020']) {
    t.equal(traceHash(name, 42), traceHash(name, 42), `${name}: same seed, same trace`);
    t.not(traceHash(name, 42), traceHash(name, 43), `${name}: different seed, different trace`);
  }
  t.equal(traceHash('gmel2024', 7, { 'arrivals.process': 'poisson' }), traceHash('gmel2024', 7, { 'arrivals.process': 'poisson' }));
});

t.test('the RNG state round-trips, so checkpoints can resume a stream', async (t) => {
  const a = new Rng(99);
  for (let k = 0; k < 10; k++) a.uniform();
  const b = Rng.fromState(a.state());
  t.same(Array.from({ length: 5 }, () => a.uniform()), Array.from({ length: 5 }, () => b.uniform()));
});
