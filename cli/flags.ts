/** Numeric command-line flags checked the same way by every command (rollouts from `gmel deploy` and `gmel twin`). */
import { UsageError } from '../core/errors.ts';

/** A finite number ≥ 0. */
export function nonNegativeFlag(value: string, flag: string): number {
  const x = Number(value);
  if (!(Number.isFinite(x) && x >= 0)) throw new UsageError(`${flag} must be a non-negative number, got "${value}"`);
  return x;
}

/** A share or rate in 0..1. */
export function shareFlag(value: string, flag: string): number {
  const x = Number(value);
  if (!(x >= 0 && x <= 1)) throw new UsageError(`${flag} must be a number in 0..1, got "${value}"`);
  return x;
}

/** The canary fraction of a staged rollout: in (0, 1]. */
export function canaryFlag(value: string, flag = '--canary'): number {
  const x = Number(value);
  if (!(x > 0 && x <= 1)) throw new UsageError(`${flag} must be in (0, 1], got "${value}"`);
  return x;
}
