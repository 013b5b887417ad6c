/**
 * The floor layout a scenario describes (the "plant" in the paper's sense, not plant/): where devices stand and what each edge server offers.
 *
 * | field            | shape   | unit        | how                                                   |
 * |------------------|---------|-------------|-------------------------------------------------------|
 * | edgePositions    | M × 2   | m           | centres of a near-square grid over the floor          |
 * | iedPositions     | I × 2   | m           | uniform over the floor, drawn from scenario.layoutSeed |
 * | edgeGpuGHz       | M       | Gcycles/s   | F_m^G, resolved from the per-server field             |
 * | uplinkBandMHz    | M       | MHz         | the band an upload to ES m is cut from: B_m (per-server, |
 * |                  |         |             | edge.bandwidthMHz) or the system band B for every m (shared) |
 * | sharedSpectrum   | —       | —           | radio.spectrum = "shared": every sender of the slot shares B |
 * | snrFullBand      | I × M   | linear      | P·g/(N0·band) before fading (radio "shannon")         |
 *
 * The layout is part of the plant, not of an episode: every reset({seed}) keeps it, so a trained
 * policy meets the same floor it was trained on. IED k's position does not depend on I, so sweeping
 * the number of IEDs adds devices to the same floor.
 */
import { Rng } from '../core/rng.ts';
import { perServer } from '../core/scenario/load.ts';
import type { PerServer, Scenario } from '../core/scenario/schema.ts';
import { pathGain, dbmPerHzToWattsPerHz, fullBandSnr } from '../core/radio.ts';

export interface Layout {
  readonly ieds: number;
  readonly edgeServers: number;
  readonly iedPositions: Float64Array;
  readonly edgePositions: Float64Array;
  readonly edgeGpuGHz: Float64Array;
  readonly uplinkBandMHz: Float64Array;
  readonly sharedSpectrum: boolean;
  readonly snrFullBand: Float64Array;
}

export function buildLayout(s: Scenario): Layout {
  const I = s.ieds;
  const M = s.edgeServers;
  const { width, height } = s.areaMeters;
  const cols = Math.ceil(Math.sqrt(M));
  const rows = Math.ceil(M / cols);
  const edgePositions = new Float64Array(2 * M);
  for (let m = 0; m < M; m++) {
    edgePositions[2 * m] = ((m % cols) + 0.5) * (width / cols);
    edgePositions[2 * m + 1] = (Math.floor(m / cols) + 0.5) * (height / rows);
  }
  const rng = new Rng(s.layoutSeed);
  const iedPositions = new Float64Array(2 * I);
  for (let i = 0; i < I; i++) {
    iedPositions[2 * i] = rng.uniform() * width;
    iedPositions[2 * i + 1] = rng.uniform() * height;
  }
  const sharedSpectrum = s.radio.spectrum === 'shared';
  // validateScenario guarantees the band of the chosen spectrum is there
  const uplinkBandMHz = sharedSpectrum ? new Float64Array(M).fill(s.radio.bandwidthMHz as number) : perServer(s.edge.bandwidthMHz as PerServer, M);
  const noise = dbmPerHzToWattsPerHz(s.radio.noiseDbmPerHz);
  const snrFullBand = new Float64Array(I * M);
  for (let i = 0; i < I; i++) {
    for (let m = 0; m < M; m++) {
      const dx = (iedPositions[2 * i] as number) - (edgePositions[2 * m] as number);
      const dy = (iedPositions[2 * i + 1] as number) - (edgePositions[2 * m + 1] as number);
      const gain = pathGain(Math.hypot(dx, dy), s.radio.pathLossDbAt1km, s.radio.pathLossDbPerDecade);
      snrFullBand[i * M + m] = fullBandSnr(s.ied.txPowerW, gain, noise, uplinkBandMHz[m] as number);
    }
  }
  return {
    ieds: I,
    edgeServers: M,
    iedPositions,
    edgePositions,
    edgeGpuGHz: perServer(s.edge.gpuGHz, M),
    uplinkBandMHz,
    sharedSpectrum,
    snrFullBand,
  };
}
