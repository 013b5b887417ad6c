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
