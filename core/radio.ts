/**
 * The usual radio model of public MEC offloading code (see ../shared/REFERENCES.md):
 *
 * | quantity          | formula                                              | unit       |
 * |-------------------|------------------------------------------------------|------------|
 * | path loss         | PL(d) = a + b·log10(d / 1 km), d ≥ 1 m               | dB         |
 * | path gain         | g = 10^(−PL/10)                                      | linear     |
 * | small-scale fading| h ~ Exp(1) (Rayleigh power gain), redrawn every slot | linear     |
 * | noise             | N0 (dBm/Hz) over the sub-band                        | W          |
 * | OFDMA share       | B_sub = B_m / k, k = IEDs transmitting to ES m       | MHz        |
 * | rate (Shannon)    | R = B_sub · log2(1 + P·g·h / (N0·B_sub))             | Mbit/s     |
 *
 * Shared by the simulator and by runtimes that estimate rates (e.g. the greedy policy).
 */

export function pathGain(distanceMeters: number, dbAt1km: number, dbPerDecade: number): number {
  const km = Math.max(distanceMeters, 1) / 1000;
  const lossDb = dbAt1km + dbPerDecade * Math.log10(km);
  return Math.pow(10, -lossDb / 10);
}

export function dbmPerHzToWattsPerHz(dbmPerHz: number): number {
  return Math.pow(10, (dbmPerHz - 30) / 10);
}

/**
 * SNR over the full band of an edge server, before fading: P·g / (N0·B). With k equal sharers the
 * sub-band SNR is k times this (the same power over 1/k of the noise), which is why it is the one
 * number per IED–ES pair the simulator precomputes.
 */
export function fullBandSnr(txPowerW: number, gain: number, noiseWattsPerHz: number, bandwidthMHz: number): number {
  return (txPowerW * gain) / (noiseWattsPerHz * bandwidthMHz * 1e6);
}

/** Shannon rate in Mbit/s of one of `sharers` equal OFDMA sub-bands of a `bandwidthMHz` band. */
export function ofdmaRateMbps(bandwidthMHz: number, sharers: number, snrFullBandFaded: number): number {
  return (bandwidthMHz / sharers) * Math.log2(1 + snrFullBandFaded * sharers);
}

/**
 * E[log2(1 + a·h)] for Rayleigh power gain h ~ Exp(1): e^{1/a}·E1(1/a) / ln 2, with the exponential
 * integral E1 by its power series (x ≤ 4) or its continued fraction (x > 4). Written by hand (a note,
 * as the brief asks): a dozen lines, and no maintained npm package offers E1 without pulling a whole
 * numerics library in.
 */
export function meanLog2FadedShannon(a: number): number {
  if (!(a > 0)) return 0;
  const x = 1 / a;
  if (x <= 4) {
    // E1(x) = −γ − ln x − Σ_{n≥1} (−x)^n / (n·n!)
    let sum = 0;
    let term = 1;
    for (let n = 1; n < 60; n++) {
      term *= -x / n;
      sum += term / n;
      if (Math.abs(term / n) < 1e-17 * Math.abs(sum)) break;
    }
    const e1 = -0.5772156649015329 - Math.log(x) - sum;
    return (Math.exp(x) * e1) / Math.LN2;
  }
  // modified Lentz on E1(x) = e^{−x} / (x + 1 − 1/(x + 3 − 4/(x + 5 − …)))
  let b = x + 1;
  let c = 1e300;
  let d = 1 / b;
  let h = d;
  for (let n = 1; n < 200; n++) {
    const an = -n * n;
    b += 2;
    d = 1 / (an * d + b);
    c = b + an / c;
    const delta = c * d;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h / Math.LN2; // e^x·E1(x) = h: no overflow of e^x at large x (very low SNR)
}

/** Mean Shannon rate (Mbit/s) of one of `sharers` OFDMA sub-bands under Rayleigh fading (or none). */
export function meanOfdmaRateMbps(bandwidthMHz: number, sharers: number, snrFullBand: number, rayleigh: boolean): number {
  const a = snrFullBand * sharers;
  return (bandwidthMHz / sharers) * (rayleigh ? meanLog2FadedShannon(a) : Math.log2(1 + a));
}
