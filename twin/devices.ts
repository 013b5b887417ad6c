/**
 * The devices of the plant as the telemetry shows them, and the processes around them. A gateway's
 * status (`gmel/v1/status/ied/<ids>`) speaks for every IED it serves: those IEDs are online while it is.
 *
 * | map      | keys                                   | from                                        |
 * |----------|----------------------------------------|---------------------------------------------|
 * | devices  | `ied-<i>`, `edge-<m>`                  | tasks, decisions, results, models, edge states, statuses |
 * | services | `gateway-<ids>`, `twin-…`, `emulator-…` | statuses                                    |
 */
import { parseIedIds } from '../core/scenario/options.ts';
import type { Status } from '../protocol/messages.ts';

export interface DeviceView {
  lastSeen: number;
  online: boolean;
  tasks: number;
  decisions: { local: number; edge: number };
  completed: number;
  dropped: number;
  desiredModel?: string;
  reportedModel?: string;
  /** the gateway process serving this IED (its status id, e.g. "0-49" or "all") */
  gateway?: string;
}

/** the most devices or services the table keeps (a plant of 10⁴ IEDs fits; a flood of made-up ids does not grow it) */
const MAX_ENTRIES = 20_000;

function emptyView(): DeviceView {
  return { lastSeen: 0, online: false, tasks: 0, decisions: { local: 0, edge: 0 }, completed: 0, dropped: 0 };
}

export class DeviceTable {
  readonly devices = new Map<string, DeviceView>();
  readonly services = new Map<string, DeviceView>();

  /** `ieds`: the plant's IED count now (the mirror's scenario may be retargeted) */
  constructor(private readonly ieds: () => number) {}

  ied(i: number): DeviceView {
    return this.get(this.devices, `ied-${i}`);
  }

  task(i: number, now: number): void {
    const dev = this.ied(i);
    dev.lastSeen = now;
    dev.tasks++;
  }

  decision(i: number, action: number, now: number): void {
    const dev = this.ied(i);
    dev.lastSeen = now;
    if (action === 0) dev.decisions.local++;
    else dev.decisions.edge++;
  }

  result(i: number, completed: boolean): void {
    const dev = this.ied(i);
    if (completed) dev.completed++;
    else dev.dropped++;
  }

  edgeState(m: number, now: number): void {
    const dev = this.get(this.devices, `edge-${m}`);
    dev.lastSeen = now;
    dev.online = true;
  }

  status(s: Status, now: number): void {
    const online = s.state === 'online';
    if (s.kind !== 'ied') {
      // edge servers are devices; the twin, the emulator and other services are listed apart
      const view = s.kind === 'edge' ? this.get(this.devices, `edge-${s.id}`) : this.get(this.services, `${s.kind}-${s.id}`);
      view.online = online;
      view.lastSeen = now;
      return;
    }
    const gateway = this.get(this.services, `gateway-${s.id}`);
    gateway.online = online;
    gateway.lastSeen = now;
    for (const i of this.iedsOf(s.id)) {
      const dev = this.ied(i);
      dev.online = online;
      dev.lastSeen = now;
      dev.gateway = s.id;
      if (s.modelVersion && dev.reportedModel === undefined) dev.reportedModel = s.modelVersion;
    }
  }

  /** the IEDs a gateway's status id names ("all", "7", "0-49", "0,1,2"); none if it names no IED list */
  private iedsOf(gatewayId: string): number[] {
    const n = this.ieds();
    if (gatewayId === 'all') return Array.from({ length: n }, (_, i) => i);
    try {
      return parseIedIds(gatewayId, n);
    } catch {
      return [];
    }
  }

  private get(map: Map<string, DeviceView>, id: string): DeviceView {
    let d = map.get(id);
    if (!d) {
      // ids come from any client that may publish: the oldest entry makes room, the table stays bounded
      if (map.size >= MAX_ENTRIES) map.delete(map.keys().next().value as string);
      map.set(id, (d = emptyView()));
    }
    return d;
  }
}
