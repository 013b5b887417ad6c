/**
 * Time for the live runtimes: an injectable clock and a slot ticker aligned to a shared epoch, so every
 * process of a plant agrees on which slot it is (slot k = [epoch + k·Δt, epoch + (k+1)·Δt)).
 */
/**
 * The plant-wide slot origin: slot k starts at PLANT_EPOCH_MS + k·Δt. A fixed date (not process start)
 * lets separately started processes (one per edge server, per gateway) agree on slots given NTP-synced
 * clocks; slot numbers stay below 2^31 at Δt = 0.1 s until 2032.
 */
export const PLANT_EPOCH_MS = Date.UTC(2026, 0, 1);

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Slot units (fractional) of a wall-clock time. */
export function slotAt(timeMs: number, epochMs: number, slotMs: number): number {
  return (timeMs - epochMs) / slotMs;
}

/**
 * Calls onSlotEnd(k) once for every slot k as its end passes, in order, catching up after a stall
 * (so no slot's service is ever skipped). Idempotent stop().
 */
export class SlotTicker {
  private next: number;
  private handle: unknown;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly epochMs: number,
    private readonly slotMs: number,
    private readonly onSlotEnd: (slot: number) => void,
    /** a slot handler that throws is reported here and the ticker keeps going (default: stderr) */
    private readonly onError: (err: unknown, slot: number) => void = (err, slot) => console.error(`slot ${slot}: ${(err as Error)?.stack ?? String(err)}`),
  ) {
    this.next = Math.max(0, Math.floor(slotAt(clock.now(), epochMs, slotMs)));
  }

  /** the slot now running (the next one to end) */
  get currentSlot(): number {
    return this.next;
  }

  start(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const due = this.epochMs + (this.next + 1) * this.slotMs;
    this.handle = this.clock.setTimeout(() => this.fire(), Math.max(0, due - this.clock.now()));
  }

  private fire(): void {
    const now = this.clock.now();
    while (!this.stopped && this.epochMs + (this.next + 1) * this.slotMs <= now + 0.5) {
      const slot = this.next++;
      try {
        this.onSlotEnd(slot);
      } catch (err) {
        this.onError(err, slot);
      }
    }
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
  }
}
