// Tasks accepted together are decided in one job (gateway.ts, enqueueDecision): in rounds of one task
// per IED, with exactly the observations and actions of deciding them one at a time.
import t from 'tap';
import pino from 'pino';
import { loadScenario } from '../../core/scenario/load.ts';
import type { Clock } from '../../protocol/clock.ts';
import { IedGatewayRuntime, type ModelHandle } from '../../runtime-ied/gateway.ts';
import { loadModelHandle, releaseModel } from '../../runtime-ied/model-loader.ts';
import type { ActorSession } from '../../runtime-ied/policy.ts';
import type { TaskAnnouncement } from '../../protocol/messages.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';

const logger = pino({ level: 'silent' });
const scenario = loadScenario('gmel2024', { ieds: 4 });
const epochMs = Math.ceil(Date.now() / 100) * 100;
const now = epochMs + 50; // mid-slot; the clock stands still, so no slot ends between the two runs' decisions
const frozen: Clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };

interface Seen {
  readonly ied: number;
  readonly obs: number[];
  readonly action: number;
}

function recording(model: ModelHandle, seen: Seen[]): ModelHandle {
  const wrap = (ied: number, s: ActorSession): ActorSession => ({
    ...s,
    decide: async (obs, hidden) => {
      const copy = Array.from(obs);
      const d = await s.decide(obs, hidden);
      seen.push({ ied, obs: copy, action: d.action });
      return d;
    },
  });
  return { ...model, sessions: new Map([...model.sessions].map(([i, s]) => [i, wrap(i, s)])) };
}

// IED 0 three times (each of its tasks observes the queue its previous decision left), IED 1 twice
const tasks: TaskAnnouncement[] = [0, 1, 0, 0, 1].map((iedId, k) => ({ v: 1, taskId: `t${k}`, iedId, sizeMbit: 6 + 3 * k, density: 0.03, deadlineSeconds: 2, createdAt: now }));

async function decideAll(together: boolean): Promise<Seen[]> {
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const model = await loadModelHandle('models/gmel2024-amarl', scenario, [0, 1], 'node');
  const seen: Seen[] = [];
  const gateway = await IedGatewayRuntime.create({ scenario, iedIds: [0, 1], model: recording(model, seen), mqtt: await connect(`gw-${together}`), clock: frozen, epochMs, logger });
  if (together) await Promise.all(tasks.map((m) => gateway.onTask(m)));
  else for (const m of tasks) await gateway.onTask(m);
  await gateway.idle();
  await gateway.close();
  await releaseModel(model);
  await endAll();
  await broker.close();
  return seen;
}

t.test('a batch decides in rounds of one task per IED, as if one by one', async (t) => {
  const oneByOne = await decideAll(false);
  const batched = await decideAll(true);
  t.same(oneByOne.map((s) => s.ied), [0, 1, 0, 0, 1], 'one by one: in arrival order');
  t.same(batched.map((s) => s.ied), [0, 1, 0, 1, 0], 'together: round 1 {t0, t1}, round 2 {t2, t4}, round 3 {t3}');
  for (const ied of [0, 1]) {
    const of = (xs: Seen[]) => xs.filter((s) => s.ied === ied);
    t.same(of(batched).map((s) => s.obs), of(oneByOne).map((s) => s.obs), `IED ${ied}: the same observations`);
    t.same(of(batched).map((s) => s.action), of(oneByOne).map((s) => s.action), `IED ${ied}: the same actions`);
  }
  const ied0 = oneByOne.filter((s) => s.ied === 0).map((s) => JSON.stringify(s.obs));
  t.equal(new Set(ied0).size, 3, "IED 0's tasks observe different states (the comparison can tell an order apart)");
});
