/**
 * How `gmel up --gateways N` splits the plant's IEDs over its gateway runtimes: contiguous ranges, as
 * `gmel ied --ieds a-b` serves them (a light module: the CLI checks the flag before loading the plant).
 */
import { InputError } from '../core/errors.ts';

/** Most gateway runtimes one plant starts (each one is a broker client with its own subscriptions). */
export const MAX_PLANT_GATEWAYS = 64;

/** IEDs 0..ieds−1 split into `n` contiguous ranges as equal as can be (the first ones one longer). */
export function gatewayRanges(ieds: number, n: number): number[][] {
  if (!(Number.isInteger(n) && n >= 1 && n <= Math.min(ieds, MAX_PLANT_GATEWAYS))) throw new InputError(`gateways must be an integer in 1..${Math.min(ieds, MAX_PLANT_GATEWAYS)} (at most one per IED, at most ${MAX_PLANT_GATEWAYS}), got ${String(n)}`);
  const base = Math.floor(ieds / n);
  const longer = ieds % n;
  const out: number[][] = [];
  for (let k = 0, first = 0; k < n; k++) {
    const size = base + (k < longer ? 1 : 0);
    out.push(Array.from({ length: size }, (_, j) => first + j));
    first += size;
  }
  return out;
}
