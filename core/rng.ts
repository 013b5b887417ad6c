/**
 * Seeded random numbers for everything in twin/ and trainer/.
 *
 * | what            | how                                                         |
 * |-----------------|-------------------------------------------------------------|
 * | generator       | sfc32 (Chris Doty-Humphrey's Small Fast Counting, 128 bits) |
 * | seeding         | splitmix32 expands one integer seed into the 4 state words  |
 * | uniform()       | [0, 1), 32 bits of resolution                               |
 * | exponential()   | Exp(1) by inversion (Rayleigh power fading)                 |
 * | poisson(l)      | Knuth's product method (small l: per-slot arrivals)        |
 * | state / restore | 4 uint32 words, so checkpoints can resume a stream exactly  |
 *
 * Written by hand rather than taken from a package (a note, as the brief asks): the simulator
 * draws ~10 numbers per IED-slot on its hot path and wants doubles from a mutable generator
 * whose state can be saved into a checkpoint; pure-rand, the well-kept option, hands out int32
 * through its distribution objects, so every double would cost two calls and a combination.
 * sfc32 is 15 lines and has published test results (PractRand clean to 2^42+ bytes).
 */

/** One step of splitmix32: a good mixer to expand/derive seeds. */
export function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A child seed that is a deterministic function of (seed, stream): episode k of run seed s, etc. */
export function deriveSeed(seed: number, stream: number): number {
  return splitmix32(splitmix32(seed >>> 0) ^ Math.imul(stream + 1, 0x27d4eb2d));
}

export type RngState = readonly [number, number, number, number];

export class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  constructor(seed: number) {
    let s = seed >>> 0;
    s = splitmix32(s);
    this.a = s;
    s = splitmix32(s);
    this.b = s;
    s = splitmix32(s);
    this.c = s;
    s = splitmix32(s);
    this.d = s | 1;
    // discard the first outputs, as sfc32's author recommends
    for (let k = 0; k < 12; k++) this.nextUint32();
  }

  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.restore(state);
    return rng;
  }

  /** Continue exactly where a saved state left off. */
  restore(state: RngState): void {
    this.a = state[0] >>> 0;
    this.b = state[1] >>> 0;
    this.c = state[2] >>> 0;
    this.d = state[3] >>> 0;
  }

  state(): RngState {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0];
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform on [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform on [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Integer uniform on [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Exp(1): the power gain of a Rayleigh-faded channel. */
  exponential(): number {
    return -Math.log(1 - this.uniform());
  }

  /** Standard normal by Box–Muller (one of the pair; simplicity over speed, off the hot path). */
  normal(): number {
    const u = 1 - this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Poisson(lambda) by Knuth's method; lambda is a per-slot arrival rate, so small. */
  poisson(lambda: number): number {
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = this.uniform();
    while (p > limit) {
      k++;
      p *= this.uniform();
    }
    return k;
  }
}
