/**
 * The uplink channels of every IED–ES pair for the current slot (core/radio.ts for the formulas).
 *
 * | array              | [i·M + m]                                                   |
 * |--------------------|-------------------------------------------------------------|
 * | fading             | Rayleigh power gain h ~ Exp(1) this slot (1 without fading) |
 * | spectralEfficiency | log2(1 + P·g·h/(N0·B_m)), bit/s/Hz: the observation's input |
 *
 * A fixed-rate radio (Tang & Wong) has no channel state: every pair gets fixedRateMbps and a
 * spectral efficiency equal to the encoder's scale (channel quality 1).
 */
import type { Rng } from '../core/rng.ts';
import { ofdmaRateMbps } from '../core/radio.ts';
import { SPECTRAL_EFFICIENCY_SCALE } from '../core/observation.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import type { Layout } from './layout.ts';

export class Channel {
  readonly fading: Float64Array;
  readonly spectralEfficiency: Float64Array;

  constructor(
    private readonly radio: Scenario['radio'],
    private readonly layout: Layout,
  ) {
    const pairs = layout.ieds * layout.edgeServers;
    this.fading = new Float64Array(pairs).fill(1);
    this.spectralEfficiency = new Float64Array(pairs);
  }

  /** Redraw this slot's fading (one Exp(1) per pair with Rayleigh fading). */
  draw(rng: Rng): void {
    if (this.radio.model === 'fixed') {
      this.spectralEfficiency.fill(SPECTRAL_EFFICIENCY_SCALE);
      return;
    }
    const snr = this.layout.snrFullBand;
    const rayleigh = this.radio.fading === 'rayleigh';
    for (let k = 0; k < snr.length; k++) {
      const h = rayleigh ? rng.exponential() : 1;
      this.fading[k] = h;
      this.spectralEfficiency[k] = Math.log2(1 + (snr[k] as number) * h);
    }
  }

  /** Uplink rate (Mbit/s) of IED i to server m when `sharers` IEDs share its band this slot (bandSharers). */
  rateMbps(i: number, m: number, sharers: number): number {
    if (this.radio.model === 'fixed') return this.radio.fixedRateMbps as number;
    const k = i * this.layout.edgeServers + m;
    return ofdmaRateMbps(this.layout.uplinkBandMHz[m] as number, sharers, (this.layout.snrFullBand[k] as number) * (this.fading[k] as number));
  }
}

/**
 * Senders per server → how many share each server's band: per-server spectrum, those sending to it;
 * a shared system band, every sender of the slot, whatever server it sends to (in place).
 */
export function bandSharers(sendersPerServer: Int32Array, sharedSpectrum: boolean): Int32Array {
  if (sharedSpectrum) {
    let total = 0;
    for (let m = 0; m < sendersPerServer.length; m++) total += sendersPerServer[m] as number;
    sendersPerServer.fill(total);
  }
  return sendersPerServer;
}
