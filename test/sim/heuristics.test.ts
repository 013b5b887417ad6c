// Heuristic policies: valid actions, their defining behaviour, and the ordering we rely on as a bar.
import t from 'tap';
import { loadScenario } from '../../core/scenario/load.ts';
import { Rng } from '../../core/rng.ts';
import { World } from '../../sim/world.ts';
import { runEpisodes } from '../../sim/episodes.ts';
import { createHeuristic, HEURISTIC_NAMES } from '../../sim/policies/heuristics.ts';

t.test('every heuristic returns an action in 0..M for every IED with a task', async (t) => {
  const scenario = loadScenario('gmel2024', { ieds: 15 });
  for (const name of HEURISTIC_NAMES) {
    const world = new World(scenario);
    const policy = createHeuristic(name, new Rng(1));
    const actions = new Int32Array(world.I).fill(-1);
    world.reset(2);
    let bad = 0;
    for (let done = false; !done; ) {
      policy.act(world, actions);
      for (let i = 0; i < world.I; i++) if (world.currentTask[i] !== -1 && !((actions[i] as number) >= 0 && (actions[i] as number) <= world.M)) bad++;
      done = world.step(actions);
    }
    t.equal(bad, 0, name);
  }
});

t.test('defining behaviour', async (t) => {
  const scenario = loadScenario('gmel2024', { ieds: 10 });
  const local = runEpisodes(scenario, (rng) => createHeuristic('local', rng), 2, 1).summary;
  t.equal(local.completedEdge, 0, 'local-only never offloads');
  t.equal(local.dropped.uplink + local.dropped.edge, 0);
  const rr = runEpisodes(scenario, (rng) => createHeuristic('round-robin', rng), 2, 1).summary;
  t.equal(rr.completedLocal, 0, 'round-robin always offloads');
  // round-robin spreads an IED's tasks evenly: count per server for IED 0
  const world = new World(loadScenario('gmel2024', { ieds: 1, 'arrivals.probability': 1 }));
  const policy = createHeuristic('round-robin', new Rng(1));
  const actions = new Int32Array(1);
  world.reset(1);
  const seen: number[] = [];
  for (let k = 0; k < 10; k++) {
    policy.act(world, actions);
    seen.push(actions[0] as number);
    world.step(actions);
  }
  t.same(seen, [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]);
});

t.test('on the default scenario the full-information greedy clears random and local-only', async (t) => {
  const scenario = loadScenario('gmel2024');
  const rate = (name: (typeof HEURISTIC_NAMES)[number]) => runEpisodes(scenario, (rng) => createHeuristic(name, rng), 3, 5).summary.completionRate;
  const central = rate('central-greedy');
  t.ok(central > rate('random') + 0.1, `central-greedy ${central.toFixed(3)} vs random`);
  t.ok(central > rate('local') + 0.05, `central-greedy ${central.toFixed(3)} vs local`);
});
