/**
 * Heuristic offloading policies: the bar a learned policy must clear (the paper leaves them out).
 *
 * | name           | information      | rule                                                               |
 * |----------------|------------------|--------------------------------------------------------------------|
 * | local          | none             | always run locally                                                 |
 * | random         | none             | uniform over local and the M edge servers                          |
 * | best-channel   | own observation  | the edge server with the best channel quality this slot            |
 * | round-robin    | none             | "average allocation": edge servers in turn, IED i starting at i mod M |
 * | greedy         | own observation  | least estimated completion time (below)                            |
 * | central-greedy | true global state| least completion time from exact queues, sharers and fading, IEDs  |
 * |                |                  | deciding in turn and seeing the choices made before them this slot |
 *
 * greedy's estimate for edge server m: upload (own uplink backlog + s) at the rate of a 1/k share,
 * k = max(1, load_m), plus service of (own backlog at m + s)·e at F_m/(load_m + 1); for local:
 * the local wait plus ⌈s·e/(Δt·f)⌉ slots. Static facts (f, F_m, B_m) are the IED's configuration.
 */
import type { World } from '../world.ts';
import type { Policy } from '../episodes.ts';

export type { Policy };
import { Rng } from '../../core/rng.ts';
import { ofdmaRateMbps } from '../../core/radio.ts';
import { bandSharers } from '../channel.ts';

export const HEURISTIC_NAMES = ['local', 'random', 'best-channel', 'round-robin', 'greedy', 'central-greedy'] as const;
export type HeuristicName = (typeof HEURISTIC_NAMES)[number];

export function isHeuristicName(name: string): name is HeuristicName {
  return (HEURISTIC_NAMES as readonly string[]).includes(name);
}

/** Every random draw of a policy comes from `rng` (seed it per run). */
export function createHeuristic(name: HeuristicName, rng: Rng): Policy {
  switch (name) {
    case 'local':
      return { name, act: (_w, actions) => actions.fill(0) };
    case 'random':
      return {
        name,
        act: (w, actions) => {
          for (let i = 0; i < w.I; i++) actions[i] = rng.int(w.M + 1);
        },
      };
    case 'best-channel':
      return { name, act: bestChannel };
    case 'round-robin':
      return roundRobin();
    case 'greedy':
      return { name, act: greedy };
    case 'central-greedy':
      return centralGreedy();
  }
}

function bestChannel(w: World, actions: Int32Array): void {
  const M = w.M;
  for (let i = 0; i < w.I; i++) {
    let best = 0;
    for (let m = 1; m < M; m++) if ((w.spectralEfficiency[i * M + m] as number) > (w.spectralEfficiency[i * M + best] as number)) best = m;
    actions[i] = best + 1;
  }
}

function roundRobin(): Policy {
  let turns: Int32Array | undefined;
  return {
    name: 'round-robin',
    act: (w, actions) => {
      turns ??= Int32Array.from({ length: w.I }, (_, i) => i);
      for (let i = 0; i < w.I; i++) {
        if (w.currentTask[i] === -1) continue;
        const turn = turns[i] as number;
        actions[i] = 1 + (turn % w.M);
        turns[i] = turn + 1;
      }
    },
  };
}

function localSeconds(w: World, i: number, work: number): number {
  return w.localWaitSeconds(i) + Math.max(1, Math.ceil(work / (w.dt * w.scenario.ied.gpuGHz) - 1e-9)) * w.dt;
}

function greedy(w: World, actions: Int32Array): void {
  const M = w.M;
  let totalLoad = 0;
  for (let m = 0; m < M; m++) totalLoad += w.edgeLoadLast[m] as number;
  for (let i = 0; i < w.I; i++) {
    if (w.currentTask[i] === -1) continue;
    const f = w.observationFields(i);
    const s = f.taskSizeMbit;
    const work = s * f.taskDensity;
    let best = 0;
    let bestTime = localSeconds(w, i, work);
    for (let m = 0; m < M; m++) {
      const load = w.edgeLoadLast[m] as number;
      // edge load (valid queues at each ES last slot) as the stand-in for sharers: m's, or all servers' on a shared band
      const sharers = Math.max(1, w.layout.sharedSpectrum ? totalLoad : load);
      const rate = w.scenario.radio.model === 'fixed'
        ? (w.scenario.radio.fixedRateMbps as number)
        : ofdmaRateMbps(w.layout.uplinkBandMHz[m] as number, sharers, Math.pow(2, f.spectralEfficiency[i * M + m] as number) - 1);
      const upload = (f.uplinkBacklogMbit + s) / rate;
      const serve = (((f.edgeBacklogMbit[i * M + m] as number) + s) * f.taskDensity) / ((w.layout.edgeGpuGHz[m] as number) / (load + 1));
      const time = upload + serve;
      if (time < bestTime) {
        bestTime = time;
        best = m + 1;
      }
    }
    actions[i] = best;
  }
}

/** Full information: exact sharers (including this slot's earlier choices), queues and fading. */
function centralGreedy(): Policy {
  let sharers = new Int32Array(0);
  let active = new Int32Array(0);
  let busy = new Float64Array(0);
  return {
    name: 'central-greedy',
    act: (w, actions) => {
      const M = w.M;
      const pool = w.pool;
      if (sharers.length !== M) {
        sharers = new Int32Array(M);
        active = new Int32Array(M);
      }
      if (busy.length !== w.I * M) busy = new Float64Array(w.I * M);
      // who transmits to whom right now (uplink heads), and the edge queues that are valid
      sharers.fill(0);
      for (let i = 0; i < w.I; i++) {
        if (w.uplinkCount[i] === 0) continue;
        const head = w.uplinkQ.firstLive(i);
        if (head >= 0) sharers[pool.server[head] as number] = (sharers[pool.server[head] as number] as number) + 1;
      }
      bandSharers(sharers, w.layout.sharedSpectrum);
      for (let m = 0; m < M; m++) active[m] = w.activeLen[m] as number;
      for (let q = 0; q < w.I * M; q++) busy[q] = w.edgeCount[q] === 0 ? 0 : queuedGcycles(w, q);
      for (let i = 0; i < w.I; i++) {
        const id = w.currentTask[i] as number;
        if (id < 0) continue;
        const s = pool.sizeMbit[id] as number;
        const e = pool.density[id] as number;
        const deadlineLeft = ((pool.deadline[id] as number) - w.slot) * w.dt;
        let best = 0;
        let bestTime = localSeconds(w, i, s * e);
        const transmitting = w.uplinkCount[i] !== 0;
        for (let m = 0; m < M; m++) {
          const k = sharers[m] as number;
          const rate = w.uplinkRateMbps(i, m, transmitting ? Math.max(1, k) : k + 1);
          const upload = ((w.uplinkBacklogMbit[i] as number) + s) / rate;
          const q = i * M + m;
          const valid = (active[m] as number) + (w.edgeCount[q] === 0 ? 1 : 0);
          const serve = ((busy[q] as number) + s * e) / ((w.layout.edgeGpuGHz[m] as number) / valid);
          const time = upload + serve;
          if (time < bestTime) {
            bestTime = time;
            best = m + 1;
          }
        }
        // a task no option can finish in time is best kept off the shared resources
        if (bestTime > deadlineLeft) best = 0;
        actions[i] = best;
        if (best > 0) {
          const m = best - 1;
          // a new sender: on a shared band it shares with every server's senders, else with m's
          if (!transmitting) {
            if (w.layout.sharedSpectrum) for (let n = 0; n < M; n++) sharers[n] = (sharers[n] as number) + 1;
            else sharers[m] = (sharers[m] as number) + 1;
          }
          const q = i * M + m;
          if (w.edgeCount[q] === 0 && (busy[q] as number) === 0) active[m] = (active[m] as number) + 1;
          busy[q] = (busy[q] as number) + s * e;
        }
      }
    },
  };
}

/** Work (Gcycles) still queued at edge queue q: walks the queue (full information). */
function queuedGcycles(w: World, q: number): number {
  const pool = w.pool;
  let id = w.edgeQ.head[q] as number;
  let gcycles = 0;
  while (id >= 0) {
    if (pool.resolved[id] === 0) gcycles += (pool.remaining[id] as number) * (pool.density[id] as number);
    id = pool.next[id] as number;
  }
  return gcycles;
}
