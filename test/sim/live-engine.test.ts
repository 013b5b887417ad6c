// The live runtimes' engine is the simulator's: a gateway-side world (local + uplink) and an edge-side
// world (edge queues), connected as runtime-ied and runtime-edge are, resolve every task exactly as one
// simulator world does, slot for slot.
import t from 'tap';
import { loadScenario } from '../../core/scenario/load.ts';
import { Rng } from '../../core/rng.ts';
import { World } from '../../sim/world.ts';
import { liveWorld } from '../../sim/live-scenario.ts';

type Outcome = { completed: boolean; latency: number; stage: number };

t.test('split worlds = one world', async (t) => {
  for (const p of [0.3, 0.7, 0.95]) {
    const scenario = loadScenario('gmel2024', { ieds: 10, edgeServers: 3, 'radio.fading': 'none', 'arrivals.probability': p, episodeSlots: 60 });
    const reference = new World(scenario);
    const refOut = new Map<string, Outcome>();
    reference.onOutcome = (id, completed, _at, stage, latency) => refOut.set(`${reference.pool.ied[id]}@${reference.pool.arrivalSlot[id]}`, { completed, latency, stage });
    const ied = liveWorld(scenario, 0);
    const edge = liveWorld(scenario, 0);
    const splitOut = new Map<string, Outcome>();
    const record = (w: World) => (id: number, completed: boolean, _at: number, stage: number, latency: number) => splitOut.set(`${w.pool.ied[id]}@${w.pool.arrivalSlot[id]}`, { completed, latency, stage });
    ied.onOutcome = record(ied);
    edge.onOutcome = record(edge);
    ied.onUploaded = (id) => {
      const pool = ied.pool;
      edge.acceptAtEdge(pool.ied[id] as number, pool.server[id] as number, {
        sizeMbit: pool.sizeMbit[id] as number, density: pool.density[id] as number,
        arrivalSlot: pool.arrivalSlot[id] as number, deadlineSlot: pool.deadline[id] as number,
      });
    };
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
        ied.announce(i, { sizeMbit: pool.sizeMbit[id] as number, density: pool.density[id] as number, deadlineSeconds: ((pool.deadline[id] as number) - slot) * scenario.slotSeconds }, slot);
        ied.decideTask(i, actions[i] as number);
      }
      done = reference.step(actions);
      // as in the runtimes: the edge serves slot `slot`, then the gateway's uploads of that slot arrive
      edge.advanceSlot({ edge: true, uplink: false });
      ied.advanceSlot({ edge: false, uplink: true });
    }
    for (let k = 0; k < 40; k++) {
      edge.advanceSlot({ edge: true, uplink: false });
      ied.advanceSlot({ edge: false, uplink: true });
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
