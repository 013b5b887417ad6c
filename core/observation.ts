/**
 * The observation encoder o_i(t) of Sec. IV-A — the one and only: the simulator, the trainer and the
 * gateway runtime all call encodeObservation(), so a policy sees the same numbers in the lab and live.
 *
 * | index             | feature (raw unit)                             | encoding            |
 * |-------------------|------------------------------------------------|---------------------|
 * | 0                 | task size s_i(t) (Mbit; 0 = no task)           | s / s_max           |
 * | 1                 | task density e_i(t) (Gcycles/Mbit)             | e / e_max           |
 * | 2                 | time left to the task's deadline (s)           | d / d_max           |
 * | 3                 | local queue waiting time T_i^L (s)             | w / d_max           |
 * | 4                 | own uplink backlog q^Co (Mbit)                 | ln(1 + q / s_max)   |
 * | 5 .. 5+M-1        | own backlog at edge server m, q^EC_{i,m} (Mbit)| ln(1 + q / s_max)   |
 * | 5+M .. 5+2M-1     | load of edge server m: active queues last slot | |V_m| / I           |
 * | 5+2M .. 5+3M-1    | channel quality to edge server m               | see below           |
 *
 * Channel quality (the paper's normalized gain ḡ_{i,m}(t)): the full-band spectral efficiency
 * log2(1 + P·g_{i,m}(t)/(N0·B_m)) divided by 30 bit/s/Hz (≈ the best a 100 m plant floor sees), so
 * it is comparable across edge servers and plants; with a fixed-rate radio it is 1.
 * Backlogs use ln(1+x): under overload they grow to tens of tasks and would swamp the other inputs.
 */
import type { Scenario } from './scenario/schema.ts';
import { InputError } from './errors.ts';

/**
 * Bump on any change of layout or scaling: exported models record it and runtimes refuse a mismatch.
 * gmel-obs/2: the scales below belong to the model (fixed when it is trained, from its training plant,
 * recorded in its run config, actors and manifest) and every consumer encodes with them, whatever
 * plant it runs in; gmel-obs/1 took them from the plant being run, so a model evaluated at another
 * sweep point saw inputs out of the scale it was trained on.
 */
export const OBS_ENCODER_VERSION = 'gmel-obs/2';

/** Full-band spectral efficiency (bit/s/Hz) that maps to channel quality 1. */
export const SPECTRAL_EFFICIENCY_SCALE = 30;

export interface ObservationScales {
  readonly edgeServers: number;
  readonly ieds: number;
  readonly sizeMaxMbit: number;
  readonly densityMax: number;
  readonly deadlineMaxSeconds: number;
}

/** Raw fields in physical units; typed arrays so the simulator can hand its own buffers over. */
export interface ObservationFields {
  taskSizeMbit: number;
  taskDensity: number;
  taskDeadlineLeftSeconds: number;
  localWaitSeconds: number;
  uplinkBacklogMbit: number;
  /** own backlog at each edge server, read at [edgeOffset + m] */
  edgeBacklogMbit: ArrayLike<number>;
  edgeOffset: number;
  /** active queues at each edge server in the last slot, read at [m] */
  edgeLoad: ArrayLike<number>;
  /** spectral efficiency (bit/s/Hz) to each edge server, read at [channelOffset + m] */
  spectralEfficiency: ArrayLike<number>;
  channelOffset: number;
}

/** A plant's own scales: what a model trained on this plant records as its scales. */
export function observationScales(s: Scenario): ObservationScales {
  return {
    edgeServers: s.edgeServers,
    ieds: s.ieds,
    sizeMaxMbit: s.task.sizeMbit.max,
    densityMax: s.task.densityGcyclesPerMbit.max,
    deadlineMaxSeconds: s.task.deadlineSeconds.max,
  };
}

const SCALE_FIELDS = ['edgeServers', 'ieds', 'sizeMaxMbit', 'densityMax', 'deadlineMaxSeconds'] as const;

/**
 * A model's recorded scales, checked: every field a positive finite number (the counts integers), and
 * the observation layout (the number of edge servers) that of the plant it is to run in. Why not, if
 * not: the caller refuses the model with it.
 */
function scalesProblem(value: unknown, edgeServers: number): string | undefined {
  if (typeof value !== 'object' || value === null) return 'no observation scales recorded (obsScales)';
  const v = value as Record<string, unknown>;
  for (const f of SCALE_FIELDS) {
    const x = v[f];
    if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) return `obsScales.${f} is ${JSON.stringify(x)}, not a positive number`;
    if ((f === 'edgeServers' || f === 'ieds') && !Number.isInteger(x)) return `obsScales.${f} is ${x}, not a whole number`;
  }
  if (v.edgeServers !== edgeServers) return `trained for ${String(v.edgeServers)} edge servers, the plant has ${edgeServers}`;
  return undefined;
}

/** A model's recorded scales (the fields alone: a manifest or config carries them among others), or an InputError naming `where`. */
export function modelScales(value: unknown, edgeServers: number, where: string): ObservationScales {
  const problem = scalesProblem(value, edgeServers);
  if (problem) throw new InputError(`${where}: ${problem}`);
  const v = value as ObservationScales;
  return { edgeServers: v.edgeServers, ieds: v.ieds, sizeMaxMbit: v.sizeMaxMbit, densityMax: v.densityMax, deadlineMaxSeconds: v.deadlineMaxSeconds };
}

export function observationSize(edgeServers: number): number {
  return 5 + 3 * edgeServers;
}

/** Write o_i into out[offset .. offset + observationSize(M)). No allocation: this runs per IED-slot. */
export function encodeObservation(
  out: Float32Array,
  offset: number,
  f: ObservationFields,
  k: ObservationScales,
): void {
  const M = k.edgeServers;
  out[offset] = f.taskSizeMbit / k.sizeMaxMbit;
  out[offset + 1] = f.taskDensity / k.densityMax;
  out[offset + 2] = f.taskDeadlineLeftSeconds / k.deadlineMaxSeconds;
  out[offset + 3] = f.localWaitSeconds / k.deadlineMaxSeconds;
  out[offset + 4] = Math.log1p(f.uplinkBacklogMbit / k.sizeMaxMbit);
  const backlogAt = offset + 5;
  const loadAt = backlogAt + M;
  const channelAt = loadAt + M;
  for (let m = 0; m < M; m++) {
    out[backlogAt + m] = Math.log1p((f.edgeBacklogMbit[f.edgeOffset + m] as number) / k.sizeMaxMbit);
    out[loadAt + m] = (f.edgeLoad[m] as number) / k.ieds;
    out[channelAt + m] = (f.spectralEfficiency[f.channelOffset + m] as number) / SPECTRAL_EFFICIENCY_SCALE;
  }
}
