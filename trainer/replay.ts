/**
 * Experience for centralized training: whole episodes of joint transitions (shared infrastructure).
 *
 * | per episode | shape          | meaning                                                          |
 * |-------------|----------------|------------------------------------------------------------------|
 * | obs         | (T+1) × I × D  | encoded observations; row T is the terminal one                  |
 * | actions     | T × I          | the action each IED took (ignored by the world without a task)  |
 * | rewards     | T × I          | eq. (4) credit of the task decided in that slot (delayed credit)|
 * | hasTask     | (T+1) × I      | 1 where the IED had a task: actors learn only from these rows   |
 * | hidden      | (T+1) × I × H  | recurrent actor state before slot t's decision (H = 0: none)    |
 *
 * Rewards are assigned back to the decision slot when the episode ends (the drain resolves every task
 * in the last step), which is why storage is by whole episodes. Sampling is uniform over transitions.
 * A recurrent actor learns from the stored state (R2D2's "stored state", one step of backpropagation
 * through the cell): row t + 1 of `hidden` is the state its target actor starts from.
 */
import type { Rng } from '../core/rng.ts';

export interface EpisodeRecord {
  readonly slots: number;
  readonly obs: Float32Array;
  readonly actions: Int32Array;
  readonly rewards: Float32Array;
  readonly hasTask: Uint8Array;
  readonly hidden: Float32Array;
}

export function newEpisodeRecord(slots: number, agents: number, obsSize: number, hiddenSize = 0): EpisodeRecord {
  return {
    slots,
    obs: new Float32Array((slots + 1) * agents * obsSize),
    actions: new Int32Array(slots * agents),
    rewards: new Float32Array(slots * agents),
    hasTask: new Uint8Array((slots + 1) * agents),
    hidden: new Float32Array((slots + 1) * agents * hiddenSize),
  };
}

/** A sampled batch in agent-major layout ([I, B, ·]) ready for tensors. */
export interface Batch {
  readonly size: number;
  readonly obs: Float32Array;
  readonly nextObs: Float32Array;
  readonly actions: Int32Array;
  readonly rewards: Float32Array;
  readonly hasTask: Uint8Array;
  /** 1 where the transition ends the episode */
  readonly done: Float32Array;
  /** recurrent actor state before the decision, [I, B, H] (empty when H = 0) */
  readonly hidden: Float32Array;
  /** recurrent actor state at the next slot, [I, B, H] */
  readonly nextHidden: Float32Array;
}

export class EpisodeReplay {
  private readonly stored: EpisodeRecord[] = [];
  private next = 0;

  constructor(
    readonly capacityEpisodes: number,
    readonly agents: number,
    readonly obsSize: number,
    readonly hiddenSize = 0,
  ) {}

  get episodes(): number {
    return this.stored.length;
  }

  get transitions(): number {
    return this.stored.reduce((n, e) => n + e.slots, 0);
  }

  add(episode: EpisodeRecord): void {
    if (this.stored.length < this.capacityEpisodes) this.stored.push(episode);
    else this.stored[this.next] = episode;
    this.next = (this.next + 1) % this.capacityEpisodes;
  }

  /** Uniform transitions (episodes have equal length), written agent-major. */
  sample(batchSize: number, rng: Rng): Batch {
    const I = this.agents;
    const D = this.obsSize;
    const H = this.hiddenSize;
    const out: Batch = {
      size: batchSize,
      obs: new Float32Array(I * batchSize * D),
      nextObs: new Float32Array(I * batchSize * D),
      actions: new Int32Array(I * batchSize),
      rewards: new Float32Array(I * batchSize),
      hasTask: new Uint8Array(I * batchSize),
      done: new Float32Array(batchSize),
      hidden: new Float32Array(I * batchSize * H),
      nextHidden: new Float32Array(I * batchSize * H),
    };
    if (this.stored.length === 0) throw new Error('sample() from an empty replay buffer');
    for (let b = 0; b < batchSize; b++) {
      const e = this.stored[rng.int(this.stored.length)] as EpisodeRecord;
      const t = rng.int(e.slots);
      out.done[b] = t === e.slots - 1 ? 1 : 0;
      for (let i = 0; i < I; i++) {
        const src = (t * I + i) * D;
        const dst = (i * batchSize + b) * D;
        out.obs.set(e.obs.subarray(src, src + D), dst);
        out.nextObs.set(e.obs.subarray(src + I * D, src + I * D + D), dst);
        out.actions[i * batchSize + b] = e.actions[t * I + i] as number;
        out.rewards[i * batchSize + b] = e.rewards[t * I + i] as number;
        out.hasTask[i * batchSize + b] = e.hasTask[t * I + i] as number;
        if (H > 0) {
          const h = (t * I + i) * H;
          out.hidden.set(e.hidden.subarray(h, h + H), (i * batchSize + b) * H);
          out.nextHidden.set(e.hidden.subarray(h + I * H, h + I * H + H), (i * batchSize + b) * H);
        }
      }
    }
    return out;
  }

  snapshot(): { episodes: readonly EpisodeRecord[]; next: number; agents: number; obsSize: number; hiddenSize: number } {
    return { episodes: this.stored, next: this.next, agents: this.agents, obsSize: this.obsSize, hiddenSize: this.hiddenSize };
  }

  restore(snapshot: { episodes: readonly EpisodeRecord[]; next: number }): void {
    this.stored.length = 0;
    this.stored.push(...snapshot.episodes);
    this.next = snapshot.next;
  }

  /** The most recent episode (on-policy learners). */
  latest(): EpisodeRecord | undefined {
    return this.stored[(this.next - 1 + this.capacityEpisodes) % this.capacityEpisodes] ?? this.stored[this.stored.length - 1];
  }
}
