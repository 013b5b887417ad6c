/**
 * Each served IED's recurrent actor state h_a (GRU models, trainer/actor-net.ts): zero after every model
 * load and, as in training (where every episode starts from h = 0), at the start of every
 * `episodeSlots` slots; it steps only at the IED's own decisions.
 */
export class RecurrentStates {
  private readonly states = new Map<number, Float32Array>();
  private episode = -1;

  constructor(private readonly episodeSlots: number) {}

  /** IED `ied`'s state at `slot` (width `size`; a fresh zero state at an episode boundary). */
  at(ied: number, size: number, slot: number): Float32Array {
    const episode = Math.floor(slot / this.episodeSlots);
    if (episode !== this.episode) {
      this.states.clear();
      this.episode = episode;
    }
    let h = this.states.get(ied);
    if (!h || h.length !== size) this.states.set(ied, (h = new Float32Array(size)));
    return h;
  }

  /** the state after IED `ied`'s decision */
  set(ied: number, h: Float32Array): void {
    this.states.set(ied, h);
  }

  /** a new model: every actor starts again from h = 0 */
  clear(): void {
    this.states.clear();
  }
}
