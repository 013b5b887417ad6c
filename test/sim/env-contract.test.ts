// The ParallelEnv-like API contract (sim/env.ts).
import t from 'tap';
import { loadScenario } from '../../core/scenario/load.ts';
import { observationSize } from '../../core/observation.ts';
import { GmelParallelEnv, type AgentId } from '../../sim/env.ts';

t.test('API conformance over a whole episode', async (t) => {
  const scenario = loadScenario('gmel2024', { ieds: 6, edgeServers: 3, episodeSlots: 30 });
  const env = new GmelParallelEnv(scenario);
  t.equal(env.possibleAgents.length, 6);
  t.same(env.possibleAgents.slice(0, 2), ['ied_0', 'ied_1']);
  const agent = env.possibleAgents[0] as AgentId;
  t.same(env.actionSpace(agent), { kind: 'discrete', n: 4 });
  t.same(env.observationSpace(agent).shape, [observationSize(3)]);
  const { observations, infos } = env.reset({ seed: 3 });
  t.same(Object.keys(observations), env.possibleAgents);
  t.same(Object.keys(infos), env.possibleAgents);
  for (const a of env.possibleAgents) t.equal(observations[a]?.length, 14);
  t.equal(env.state().length, 6 * 14, 'state() = all observations');
  let steps = 0;
  let creditSum = 0;
  let rewardSum = 0;
  for (;;) {
    const actions = Object.fromEntries(env.possibleAgents.map((a, i) => [a, (steps + i) % 4]));
    const r = env.step(actions);
    steps++;
    for (const key of ['observations', 'rewards', 'terminations', 'truncations', 'infos'] as const) t.same(Object.keys(r[key]), env.possibleAgents, `${key} keyed by agent`);
    for (const a of env.possibleAgents) {
      t.equal(r.truncations[a], false);
      const credits = r.infos[a]?.credits ?? [];
      const sum = credits.reduce((acc, c) => acc + c.reward, 0);
      t.ok(Math.abs(sum - (r.rewards[a] as number)) < 1e-9, 'rewards = sum of credits');
      for (const c of credits) t.ok(c.slot < steps, 'credit for a past decision');
      creditSum += credits.length;
      rewardSum += r.rewards[a] as number;
      const o = r.observations[a] as Float32Array;
      t.ok(o.every((x) => Number.isFinite(x) && x >= 0), 'finite, non-negative features');
      if (!r.infos[a]?.hasTask) t.equal(o[0], 0, 'no task → size feature 0');
    }
    if (Object.values(r.terminations).every(Boolean)) break;
    t.ok(Object.values(r.terminations).every((x) => !x));
  }
  t.equal(steps, 30, 'T steps per episode (drain inside the last)');
  const s = env.metrics.summary();
  t.equal(creditSum, s.arrived, 'every task credited once');
  t.ok(Number.isFinite(rewardSum));
  t.same(env.agents, [], 'no live agents after the end');
  t.throws(() => env.step({}), /reset/, 'stepping a finished episode is an error');
});

t.test('bad actions are refused with the IED named', async (t) => {
  const env = new GmelParallelEnv(loadScenario('gmel2024', { ieds: 4, 'arrivals.probability': 1 }));
  env.reset({ seed: 1 });
  t.throws(() => env.step({ ied_0: 9, ied_1: 0, ied_2: 0, ied_3: 0 }), /IED 0 .* 0\.\.5, got 9/);
  t.throws(() => env.step({ ied_0: 0.5, ied_1: 0, ied_2: 0, ied_3: 0 }), /IED 0/);
  t.throws(() => env.step({ ied_0: 0, ied_1: 0, ied_2: 0 }), /missing action for ied_3/);
});
