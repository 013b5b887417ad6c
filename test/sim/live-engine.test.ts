// The live runtimes' engine is the simulator's: a gateway-side world (local + uplink) and an edge-side
// world (edge queues), connected as runtime-ied and runtime-edge are, resolve every task exactly as one
// simulator world does, slot for slot.
import t from 'tap';
import { loadScenario } from '../../core/scenario/load.ts';
import { Rng } from '../../core/rng.ts';
import { World } from '../../sim/world.ts';
import { LiveWorld } from '../../sim/live-world.ts';
import { STAGE_NAMES, type StageName } from '../../sim/task-pool.ts';

type Outcome = { completed: boolean; latency: number; stage: StageName };

t.test('split worlds = one world', async (t) => {
  for (const p of [0.3, 0.7, 0.95]) {
    const scenario = loadScenario('gmel2024', { ieds: 10, edgeServers: 3, 'radio.fading': 'none', 'arrivals.probability': p, episodeSlots: 60 });
    const refOut = new Map<string, Outcome>();
    const reference: World = new World(scenario, {
      outcome: (id, completed, _at, stage, latency) => refOut.set(`${reference.pool.ied[id]}@${reference.pool.arrivalSlot[id]}`, { completed, latency, stage: STAGE_NAMES[stage] as StageName }),
    });
    // each task's reference in the live worlds is its key, as the runtimes use their messages
    type Task = { key: string; sizeMbit: number; density: number; arrivalSlot: number; deadlineSlot: number };
    const splitOut = new Map<string, Outcome>();
    const record = (ref: Task, completed: boolean, stage: StageName, latency: number) => splitOut.set(ref.key, { completed, latency, stage });
    const edge = LiveWorld.create<Task>(scenario, 0, { outcome: record });
    const ied = LiveWorld.create<Task>(scenario, 0, {
      outcome: record,
      uploaded: (ref, upload) => edge.acceptAtEdge(Number(ref.key.split('@')[0]), upload.server, ref, ref),
    });
    const rng = new Rng(9);
    reference.reset(4);
    const actions = new Int32Array(scenario.ieds);
    for (let done = false; !done; ) {
      const slot = reference.slot;
      for (let i = 0; i < scenario.ieds; i++) {
        actions[i] = rng.int(scenario.edgeServers + 1);
        const id = reference.currentTask[i] as number;
        if (id < 0) continue;
        const pool = reference.pool;
        const task: Task = { key: `${i}@${slot}`, sizeMbit: pool.sizeMbit[id] as number, density: pool.density[id] as number, arrivalSlot: slot, deadlineSlot: pool.deadline[id] as number };
        ied.arrive(i, { sizeMbit: task.sizeMbit, density: task.density, deadlineSeconds: (task.deadlineSlot - slot) * scenario.slotSeconds }, slot, task);
        ied.decide(i, actions[i] as number);
      }
      done = reference.step(actions);
      // as in the runtimes: the edge serves slot `slot`, then the gateway's uploads of that slot arrive
      edge.endSlot({ edge: true, uplink: false });
      ied.endSlot({ edge: false, uplink: true });
    }
    for (let k = 0; k < 40; k++) {
      edge.endSlot({ edge: true, uplink: false });
      ied.endSlot({ edge: false, uplink: true });
    }
    t.ok(refOut.size > 50, `p=${p}: ${refOut.size} tasks`);
    t.equal(splitOut.size, refOut.size, `p=${p}: same number of outcomes`);
    let mismatches = 0;
    for (const [key, o] of refOut) {
      const s = splitOut.get(key);
      if (!s || s.completed !== o.completed || s.stage !== o.stage || Math.abs(s.latency - o.latency) > 1e-9) mismatches++;
    }
    t.equal(mismatches, 0, `p=${p}: every task resolved the same way, in the same stage, with the same latency`);
  }
});
