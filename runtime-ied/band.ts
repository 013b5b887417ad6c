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
 * | a count is sent when it changes, and again every   | a silent gateway has no senders: a count received more   |
 * | BAND_HEARTBEAT_SLOTS while it is not zero          | than BAND_STALE_SLOTS of our slots ago counts as zero    |
 * | a report whose slot is more than MAX_CLOCK_SKEW_MS | the bound tasks have; within it, a sender's skew changes |
 * | off ours is `clock-skew` (ahead) or `stale`        | nothing (ages are ours), and no slot locks a peer out    |
 * | at most MAX_BAND_PEERS gateways are remembered     | bounded memory (the ACL lets a gateway speak only as itself) |
 * | a report as one of our own IEDs is `forged`; one of the wrong width, or counting more IEDs than the others serve, `invalid` | |
 *
 * A gateway that serves every IED of the plant has no one to share with and neither sends nor listens.
 * Cost: each gateway receives every other one's changes, so traffic grows with the square of the
 * gateways that transmit (docs/scale-out.md); an aggregator (e.g. the edge servers) would make it linear.
 */
import type { BandReport } from '../protocol/messages.ts';
import type { Refusal } from '../protocol/refusals.ts';

/** A count this many slots older than the slot being ended no longer counts (1.5 s at Δt = 0.1 s). */
export const BAND_STALE_SLOTS = 15;
/** A count that is not zero is sent again after this many slots without a change, so it never goes stale. */
export const BAND_HEARTBEAT_SLOTS = 10;
/** Other gateways remembered at most; a report from one more is refused while all are fresh. */
export const MAX_BAND_PEERS = 1024;

export class BandPeers {
  /** per other gateway: its latest count, the slot it names (for order) and our slot when it came (for age) */
  private readonly latest = new Map<number, { slot: number; receivedAt: number; senders: readonly number[] }>();
  /** this gateway's name on the band: its smallest IED */
  readonly self: number;

  constructor(
    /** edge servers M: the width of every report */
    private readonly servers: number,
    /** IEDs in the plant: no count can be larger */
    private readonly ieds: number,
    /** the IEDs this gateway serves; its name on the band is the smallest */
    private readonly served: ReadonlySet<number>,
    /** slots two gateways' clocks may differ by: MAX_CLOCK_SKEW_MS in slots, as for tasks */
    private readonly skewSlots: number,
  ) {
    this.self = Math.min(...served);
  }

  /** Remember another gateway's count, received while this gateway is in slot `now` (our own, echoed by the broker, is ignored). */
  accept(r: BandReport, now: number): Refusal | undefined {
    if (r.gateway === this.self) return undefined;
    if (this.served.has(r.gateway)) return { code: 'forged', detail: `a band report as gateway ${r.gateway}, an IED this gateway serves` };
    if (r.senders.length !== this.servers) return { code: 'invalid', detail: `${r.senders.length} counts for ${this.servers} edge servers` };
    const total = r.senders.reduce((a, n) => a + n, 0);
    if (total > this.ieds - this.served.size) return { code: 'invalid', detail: `${total} senders, more than the ${this.ieds - this.served.size} IEDs other gateways serve` };
    if (r.slot > now + this.skewSlots) return { code: 'clock-skew', detail: `slot ${r.slot}, ${r.slot - now} ahead of this gateway's (bound ${this.skewSlots})` };
    if (r.slot < now - this.skewSlots) return { code: 'stale', detail: `slot ${r.slot}, ${now - r.slot} behind this gateway's (bound ${this.skewSlots})` };
    const known = this.latest.get(r.gateway);
    // an older or repeated count is ignored while the one we hold is fresh (by our own slots: a slot
    // number once seen must not lock a gateway out once it has gone stale)
    if (known && now - known.receivedAt <= BAND_STALE_SLOTS && known.slot >= r.slot) return undefined;
    if (!known && this.latest.size >= MAX_BAND_PEERS && !this.evictStale(now)) return { code: 'invalid', detail: `more than ${MAX_BAND_PEERS} gateways on the band` };
    this.latest.set(r.gateway, { slot: r.slot, receivedAt: now, senders: r.senders });
    return undefined;
  }

  /** The other gateways' senders per server for the uplink stage of `slot`, into `into` (World.otherSenders). */
  fill(into: Int32Array, slot: number): void {
    into.fill(0);
    // the age of a count is judged by our own slots (when it came), so a sender's clock skew does
    // not stretch or shorten how long its count lives
    let total = 0;
    for (const { receivedAt, senders } of this.latest.values()) {
      if (slot - receivedAt > BAND_STALE_SLOTS) continue;
      for (let m = 0; m < into.length; m++) {
        into[m] = (into[m] as number) + (senders[m] as number);
        total += senders[m] as number;
      }
    }
    // the other gateways together cannot have more senders than they have IEDs (a gateway restarted
    // under another name is counted twice until its old count goes stale): scale down to that
    const limit = this.ieds - this.served.size;
    if (total > limit) for (let m = 0; m < into.length; m++) into[m] = Math.floor(((into[m] as number) * limit) / total);
  }

  /** Our own report of `slot` (World.ownSenders per server), or undefined when it need not be sent (see the header). */
  report(slot: number, own: Int32Array): BandReport | undefined {
    const last = this.sent;
    const same = last !== undefined && last.senders.every((n, m) => n === own[m]);
    if (same && (last.senders.every((n) => n === 0) || slot - last.slot < BAND_HEARTBEAT_SLOTS)) return undefined;
    const r: BandReport = { v: 1, gateway: this.self, slot, senders: Array.from(own) };
    this.sent = r;
    return r;
  }

  private sent: BandReport | undefined;

  private evictStale(slot: number): boolean {
    let evicted = false;
    for (const [g, r] of this.latest) if (slot - r.receivedAt > BAND_STALE_SLOTS) evicted = this.latest.delete(g) || evicted;
    return evicted;
  }
}
