/**
 * The uplink band between gateways. A gateway that serves part of the plant (`gmel ied --ieds 0-24`
 * beside `--ieds 25-49`) would otherwise split each band among its own senders only. So each such
 * gateway tells the others, every slot, how many of its IEDs sent to each edge server (a BandReport on
 * gmel/v1/band/{its first IED}), and adds their latest counts to its own (World.otherSenders) before
 * its uplink stage: OFDMA splits a band among every sender of the plant, per-server or shared spectrum.
 *
 * | rule                                              | why                                                      |
 * |---------------------------------------------------|----------------------------------------------------------|
 * | a gateway adds each other gateway's latest count   | the gateways' slot ends are not synchronised: a count    |
 * |                                                   | lags by about one slot (its last finished slot)          |
 * | a count older than BAND_STALE_SLOTS is ignored     | a gateway that stopped, or lost its broker, sends nothing |
 * | at most MAX_BAND_PEERS gateways are remembered     | bounded memory (the ACL lets a gateway speak only as itself) |
 * | a report as one of our own IEDs is `forged`, one of the wrong width or above the plant's IEDs `invalid` | |
 *
 * A gateway that serves every IED of the plant has no one to share with and neither sends nor listens.
 */
import type { BandReport } from '../protocol/messages.ts';
import type { Refusal } from '../protocol/refusals.ts';

/** A count this many slots older than the slot being ended no longer counts (0.5 s at Δt = 0.1 s). */
export const BAND_STALE_SLOTS = 5;
/** Other gateways remembered at most; a report from one more is refused while all are fresh. */
export const MAX_BAND_PEERS = 1024;

export class BandPeers {
  private readonly latest = new Map<number, { slot: number; senders: readonly number[] }>();
  /** this gateway's name on the band: its smallest IED */
  readonly self: number;

  constructor(
    /** edge servers M: the width of every report */
    private readonly servers: number,
    /** IEDs in the plant: no count can be larger */
    private readonly ieds: number,
    /** the IEDs this gateway serves; its name on the band is the smallest */
    private readonly served: ReadonlySet<number>,
  ) {
    this.self = Math.min(...served);
  }

  /** Remember another gateway's count (our own, echoed by the broker, is ignored). */
  accept(r: BandReport): Refusal | undefined {
    if (r.gateway === this.self) return undefined;
    if (this.served.has(r.gateway)) return { code: 'forged', detail: `a band report as gateway ${r.gateway}, an IED this gateway serves` };
    if (r.senders.length !== this.servers) return { code: 'invalid', detail: `${r.senders.length} counts for ${this.servers} edge servers` };
    if (r.senders.some((n) => n > this.ieds)) return { code: 'invalid', detail: `a count above the plant's ${this.ieds} IEDs` };
    const known = this.latest.get(r.gateway);
    if (known && known.slot >= r.slot) return undefined; // an older or repeated count
    if (!known && this.latest.size >= MAX_BAND_PEERS && !this.evictStale(r.slot)) return { code: 'invalid', detail: `more than ${MAX_BAND_PEERS} gateways on the band` };
    this.latest.set(r.gateway, { slot: r.slot, senders: r.senders });
    return undefined;
  }

  /** The other gateways' senders per server for the uplink stage of `slot`, into `into` (World.otherSenders). */
  fill(into: Int32Array, slot: number): void {
    into.fill(0);
    for (const { slot: at, senders } of this.latest.values()) {
      if (at < slot - BAND_STALE_SLOTS || at > slot + BAND_STALE_SLOTS) continue;
      for (let m = 0; m < into.length; m++) into[m] = (into[m] as number) + (senders[m] as number);
    }
  }

  /** Our own report of `slot`: its senders per server (World.ownSenders). */
  report(slot: number, own: Int32Array): BandReport {
    return { v: 1, gateway: this.self, slot, senders: Array.from(own) };
  }

  private evictStale(slot: number): boolean {
    let evicted = false;
    for (const [g, r] of this.latest) if (r.slot < slot - BAND_STALE_SLOTS) evicted = this.latest.delete(g) || evicted;
    return evicted;
  }
}
