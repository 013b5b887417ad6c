/**
 * Effective uplink rates as the live plant achieves them, against what the scenario's radio model
 * predicts for the very same uploads.
 *
 * | quantity      | definition                                                                          |
 * |---------------|-------------------------------------------------------------------------------------|
 * | live rate     | Σ size / Σ transmit time of the uploads in the window (offload messages'             |
 * |               | `uplinkSeconds`: time on air, queueing excluded), per edge server and per pair      |
 * | expected time | per upload: size / E[R], R = (B_m/k)·log2(1 + k·S_im·h), h ~ Exp(1) (Rayleigh), k    |
 * |               | the mean sharers it reported (`uplinkSharers`), S_im the scenario's full-band SNR    |
 * |               | of that IED–ES pair (core/radio.ts meanOfdmaRateMbps)                               |
 * | ratio ρ       | Σ expected time / Σ transmit time: 1 when the radio is as the scenario says; below 1 |
 * |               | when uploads take longer (less bandwidth, more path loss)                           |
 * | drift         | |ρ − 1| > 0.2 with ≥ 30 uploads, per edge server, else over the whole fleet          |
 * | recalibration | B_m ← c·B_m with c solving c·E[log2(1 + S/c·h)] = ρ·E[log2(1 + S·h)] for the median |
 * |               | full-band SNR S of the pairs concerned (a narrower band raises the SNR per Hz, so a |
 * |               | quarter band reads ρ ≈ 0.29 and solves back to c ≈ 0.25); bisection on c             |
 *
 * Load and the IED mix are accounted for (each upload is compared with its own pair and sharers), so
 * a busier plant does not read as a weaker radio. Per-upload fading leaves ~15% spread on one upload
 * and a few % on 30; the 20% band keeps false alarms rare (test/twin/uplink-drift.test.ts measures ρ on
 * the simulator itself).
 */
import type { Scenario } from '../core/scenario/schema.ts';
import { meanLog2FadedShannon, meanOfdmaRateMbps } from '../core/radio.ts';
import { buildLayout, type Layout } from '../sim/layout.ts';

export const UPLINK_DRIFT_BAND = 0.2;
export const UPLINK_MIN_SAMPLES = 30;

interface Upload {
  readonly slot: number;
  readonly ied: number;
  readonly server: number;
  readonly sizeMbit: number;
  readonly seconds: number;
  readonly expectedSeconds: number;
}

export interface UplinkEstimate {
  /** live effective rate of these uploads, Mbit/s */
  readonly mbps: number;
  /** the rate the scenario predicts for the same uploads, Mbit/s */
  readonly scenarioMbps: number;
  /** ρ = Σ expected / Σ actual transmit time */
  readonly ratio: number;
  readonly samples: number;
  readonly drift: boolean;
}

function estimate(list: readonly Upload[]): UplinkEstimate {
  let mbit = 0;
  let seconds = 0;
  let expected = 0;
  for (const u of list) {
    mbit += u.sizeMbit;
    seconds += u.seconds;
    expected += u.expectedSeconds;
  }
  const ratio = seconds > 0 ? expected / seconds : Number.NaN;
  return {
    mbps: seconds > 0 ? mbit / seconds : Number.NaN,
    scenarioMbps: expected > 0 ? mbit / expected : Number.NaN,
    ratio,
    samples: list.length,
    drift: list.length >= UPLINK_MIN_SAMPLES && Math.abs(ratio - 1) > UPLINK_DRIFT_BAND,
  };
}

export class UplinkRates {
  private readonly uploads: Upload[] = [];
  private readonly layout: Layout;

  constructor(
    private readonly windowSlots: number,
    private readonly scenario: Scenario,
  ) {
    this.layout = buildLayout(scenario);
  }

  /** Transmit time the scenario expects of one upload (seconds). */
  expectedSeconds(ied: number, server: number, sizeMbit: number, sharers: number): number {
    const radio = this.scenario.radio;
    if (radio.model === 'fixed') return sizeMbit / (radio.fixedRateMbps as number);
    const m = server - 1;
    const snr = this.layout.snrFullBand[ied * this.layout.edgeServers + m] as number;
    return sizeMbit / meanOfdmaRateMbps(this.layout.uplinkBandMHz[m] as number, Math.max(1, sharers), snr, radio.fading === 'rayleigh');
  }

  add(slot: number, ied: number, server: number, sizeMbit: number, seconds: number, sharers: number): void {
    if (!(seconds > 0) || ied >= this.layout.ieds || server < 1 || server > this.layout.edgeServers) return;
    this.uploads.push({ slot, ied, server, sizeMbit, seconds, expectedSeconds: this.expectedSeconds(ied, server, sizeMbit, sharers) });
    const oldest = this.uploads[0];
    if (oldest && oldest.slot < slot - 2 * this.windowSlots) {
      const keep = this.uploads.findIndex((u) => u.slot >= slot - this.windowSlots);
      this.uploads.splice(0, keep < 0 ? this.uploads.length : keep);
    }
  }

  private recent(fromSlot: number): Upload[] {
    return this.uploads.filter((u) => u.slot >= fromSlot);
  }

  /** Per "ied:server" pair over the window. */
  pairs(fromSlot: number): Record<string, UplinkEstimate> {
    return group(this.recent(fromSlot), (u) => `${u.ied}:${u.server}`);
  }

  /** Per edge server (1-based keys) over the window. */
  servers(fromSlot: number): Record<string, UplinkEstimate> {
    return group(this.recent(fromSlot), (u) => String(u.server));
  }

  /**
   * The band scale c that explains a rate ratio ρ for edge server `server` (1-based; undefined: every
   * pair of the plant), from the median full-band SNR of its pairs.
   */
  bandScale(ratio: number, server?: number): number {
    const plant = this.layout;
    const M = plant.edgeServers;
    const snrs = Array.from(plant.snrFullBand).filter((_, k) => server === undefined || k % M === server - 1).sort((a, b) => a - b);
    const snr = snrs[Math.floor(snrs.length / 2)] ?? 1;
    const rayleigh = this.scenario.radio.fading === 'rayleigh';
    if (this.scenario.radio.model === 'fixed') return ratio;
    const efficiency = (sn: number) => (rayleigh ? meanLog2FadedShannon(sn) : Math.log2(1 + sn));
    const target = ratio * efficiency(snr);
    // f(c) = c·eff(S/c) grows with c: bisection in log space over [1e-4, 1e4]
    let lo = Math.log(1e-4);
    let hi = Math.log(1e4);
    for (let k = 0; k < 80; k++) {
      const mid = (lo + hi) / 2;
      const c = Math.exp(mid);
      if (c * efficiency(snr / c) < target) lo = mid;
      else hi = mid;
    }
    return Math.exp((lo + hi) / 2);
  }

  /** Every upload in the window together. */
  fleet(fromSlot: number): UplinkEstimate {
    return estimate(this.recent(fromSlot));
  }
}

function group(list: readonly Upload[], key: (u: Upload) => string): Record<string, UplinkEstimate> {
  const by = new Map<string, Upload[]>();
  for (const u of list) {
    const k = key(u);
    const l = by.get(k);
    if (l) l.push(u);
    else by.set(k, [u]);
  }
  return Object.fromEntries([...by].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([k, l]) => [k, estimate(l)]));
}
