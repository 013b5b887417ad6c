// Differential test: our "tang2020" semantics against a direct, object-based re-statement of the rules of
// Tang & Wong's public simulator (written here from its documented behaviour, independently of stages-tang.ts).
import t from 'tap';
import { loadScenario } from '../../core/scenario/load.ts';
import { Rng } from '../../core/rng.ts';
import { World } from '../../sim/world.ts';

interface RefTask { ied: number; arrival: number; size: number; density: number; D: number; server: number; rem: number }
type Outcome = { completed: boolean; reward: number };

function reference(
  arrivals: Map<number, RefTask[]>, I: number, M: number, dt: number, f: number, F: number, rate: number, dropReward: number,
): Map<string, Outcome> {
  const out = new Map<string, Outcome>();
  const key = (x: RefTask) => `${x.ied}@${x.arrival}`;
  const localQ: RefTask[][] = Array.from({ length: I }, () => []);
  const upQ: RefTask[][] = Array.from({ length: I }, () => []);
  const edgeQ: RefTask[][][] = Array.from({ length: I }, () => Array.from({ length: M }, () => []));
  const localS: (RefTask | null)[] = Array(I).fill(null);
  const upS: (RefTask | null)[] = Array(I).fill(null);
  const edgeS: (RefTask | null)[][] = Array.from({ length: I }, () => Array(M).fill(null));
  let activePrev: number[] = Array(M).fill(0);
  const lastArrival = Math.max(...arrivals.keys());
  for (let slot = 0; slot <= lastArrival + 20; slot++) {
    for (const task of arrivals.get(slot) ?? []) (task.server < 0 ? localQ : upQ)[task.ied]?.push(task);
    // serve the task in service with cap Mbit: [still in service, finished]
    const serve = (inService: RefTask, cap: number): [RefTask | null, RefTask | null] => {
      inService.rem -= cap;
      if (inService.rem <= 0) return [null, inService];
      if (slot - inService.arrival + 1 === inService.D) {
        out.set(key(inService), { completed: false, reward: dropReward });
        return [null, null];
      }
      return [inService, null];
    };
    const completeAt = (x: RefTask) => out.set(key(x), { completed: true, reward: -(slot - x.arrival + 1) * dt });
    for (let i = 0; i < I; i++) {
      const s = localS[i] ?? null;
      const [next, done] = runWithDensity(localQ[i] as RefTask[], s, (x) => (f * dt) / x.density);
      localS[i] = next;
      if (done) completeAt(done);
    }
    for (let i = 0; i < I; i++)
      for (let m = 0; m < M; m++) {
        const [next, done] = runWithDensity((edgeQ[i] as RefTask[][])[m] as RefTask[], (edgeS[i] as (RefTask | null)[])[m] ?? null, (x) => (F * dt) / x.density / (activePrev[m] as number));
        (edgeS[i] as (RefTask | null)[])[m] = next;
        if (done) completeAt(done);
      }
    for (let i = 0; i < I; i++) {
      const [next, done] = runWithDensity(upQ[i] as RefTask[], upS[i] ?? null, () => rate * dt);
      upS[i] = next;
      if (done) {
        done.rem = done.size;
        ((edgeQ[i] as RefTask[][])[done.server] as RefTask[]).push(done);
      }
    }
    activePrev = Array.from({ length: M }, (_, m) =>
      Array.from({ length: I }, (_, i) => ((edgeQ[i] as RefTask[][])[m] as RefTask[]).length > 0 || (edgeS[i] as (RefTask | null)[])[m] ? 1 : 0).reduce<number>((a, b) => a + b, 0));

    // take a head into service if idle (dropping expired heads), then serve it
    function runWithDensity(queue: RefTask[], inService: RefTask | null, capOf: (x: RefTask) => number): [RefTask | null, RefTask | null] {
      while (!inService && queue.length > 0) {
        const x = queue.shift() as RefTask;
        if (slot - x.arrival + 1 <= x.D) inService = x;
        else out.set(key(x), { completed: false, reward: dropReward });
      }
      if (!inService) return [null, null];
      return serve(inService, capOf(inService));
    }
  }
  return out;
}

t.test('tang2020 semantics match an independent statement of the reference rules', async (t) => {
  for (const [p, seed] of [[0.3, 1], [0.6, 2], [0.9, 3]] as const) {
    const scenario = loadScenario('tang2020', { ieds: 12, edgeServers: 3, 'arrivals.probability': p, 'edge.gpuGHz': 8 });
    const world = new World(scenario);
    const rng = new Rng(seed);
    world.reset(seed);
    const arrivals = new Map<number, RefTask[]>();
    const ours = new Map<string, Outcome>();
    const actions = new Int32Array(world.I);
    for (let done = false; !done; ) {
      const list: RefTask[] = [];
      for (let i = 0; i < world.I; i++) {
        actions[i] = rng.int(world.M + 1);
        const id = world.currentTask[i] as number;
        if (id < 0) continue;
        const pool = world.pool;
        list.push({
          ied: i, arrival: world.slot, size: pool.sizeMbit[id] as number, density: pool.density[id] as number,
          D: Math.round((pool.deadline[id] as number) - world.slot), server: (actions[i] as number) - 1, rem: pool.sizeMbit[id] as number,
        });
      }
      arrivals.set(world.slot, list);
      done = world.step(actions);
      for (let k = 0; k < world.credits.count; k++)
        ours.set(`${world.credits.ied[k]}@${world.credits.slot[k]}`, { completed: world.credits.completed[k] === 1, reward: world.credits.reward[k] as number });
    }
    const ref = reference(arrivals, world.I, world.M, scenario.slotSeconds, scenario.ied.gpuGHz, 8, 14, -2);
    t.equal(ours.size, ref.size, `p=${p}: same number of outcomes (${ours.size})`);
    let mismatches = 0;
    for (const [k, v] of ref) {
      const o = ours.get(k);
      if (!o || o.completed !== v.completed || Math.abs(o.reward - v.reward) > 1e-9) mismatches++;
    }
    t.equal(mismatches, 0, `p=${p}: every task has the same outcome and delay`);
    const completed = [...ref.values()].filter((v) => v.completed).length;
    t.ok(completed > 0 && completed < ref.size, `p=${p}: a mix of outcomes (${completed}/${ref.size} completed)`);
  }
});
