/**
 * The whole live plant in one process (what `npm start` / `gmel up` runs): an embedded aedes broker
 * unless a broker URL is given, one runtime-edge per edge server, the gateway runtime serving every
 * IED with the shipped ONNX actors (or several, each serving a range: `gateways`), the plant
 * emulator, and a KPI monitor. Every component talks only through the broker, each with its own MQTT
 * connection, exactly as separate processes would.
 */
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { Scenario } from '../core/scenario/schema.ts';
import { systemClock, PLANT_EPOCH_MS, type Clock } from '../protocol/clock.ts';
import { connectMqtt } from '../protocol/mqtt.ts';
import { EdgeServerRuntime } from '../runtime-edge/edge-server.ts';
import { IedGatewayRuntime, OFFLOAD_GRACE_MS } from '../runtime-ied/gateway.ts';
import { loadModelHandle, releaseModel } from '../runtime-ied/model-loader.ts';
import { InputError } from '../core/errors.ts';
import type { Engine } from '../runtime-ied/policy.ts';
import { PlantEmulator } from './emulator.ts';
import { KpiMonitor } from './kpi.ts';
import { TwinMirror } from '../twin/mirror.ts';
import { startEmbeddedBroker } from './brokers.ts';
import { gatewayRanges } from './gateway-ranges.ts';

export interface PlantOptions {
  readonly scenario: Scenario;
  readonly modelPath: string;
  /** external broker; default: an embedded aedes on brokerPort */
  readonly brokerUrl?: string;
  readonly brokerPort?: number;
  readonly engine?: Engine;
  readonly seed?: number;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly username?: string;
  readonly password?: string;
  /** CA (PEM) for an mqtts:// broker */
  readonly ca?: string;
  /**
   * The plant as it really behaves, if it differs from the scenario the actors and the twin assume
   * (drift): the emulator draws tasks from it, and the gateways' uplinks and the edge servers take its
   * radio and edge settings (bandwidth, path loss, GPU rates). Same IEDs and edge servers.
   */
  readonly emulatorScenario?: Scenario;
  /** the twin's estimation window, slots */
  readonly twinWindowSlots?: number;
  /** announce tasks at random instants inside their slots (PlantEmulator) */
  readonly spreadWithinSlot?: boolean;
  /** slot origin shared with separately started runtimes (default PLANT_EPOCH_MS) */
  readonly epochMs?: number;
  /**
   * Gateway runtimes, each serving one contiguous range of the IEDs (default 1, all of them); with
   * more than one, they exchange band reports (docs/scale-out.md). All run in this process.
   */
  readonly gateways?: number;
}

export interface RunningPlant {
  readonly brokerUrl: string;
  readonly epochMs: number;
  /** wall-clock time the plant started announcing */
  readonly startedAt: number;
  readonly kpi: KpiMonitor;
  /** the twin's mirror of the plant (docs/twin.md) */
  readonly mirror: TwinMirror;
  readonly emulator: PlantEmulator;
  /** the gateway runtimes, in the order of their IED ranges */
  readonly gateways: readonly IedGatewayRuntime[];
  readonly edges: readonly EdgeServerRuntime[];
  /** stop announcing, wait until every announced task has an outcome (≤ the longest deadline), then close */
  stop(drain?: boolean): Promise<void>;
}

export async function startPlant(o: PlantOptions): Promise<RunningPlant> {
  const clock = o.clock ?? systemClock;
  const embedded = o.brokerUrl ? undefined : await startEmbeddedBroker(o.brokerPort ?? 0);
  const url = o.brokerUrl ?? (embedded as { url: string }).url;
  const auth = { ...(o.username !== undefined ? { username: o.username } : {}), ...(o.password !== undefined ? { password: o.password } : {}), ...(o.ca !== undefined ? { ca: o.ca } : {}) };
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const clients: MqttClient[] = [];
  const connect = async (clientId: string, device?: { kind: 'ied' | 'edge' | 'emulator' | 'twin'; id: string; modelVersion?: string }) => {
    const c = await connectMqtt({ url, clientId: `${clientId}-${tag}`, ...(device ? { device } : {}), ...auth });
    clients.push(c);
    return c;
  };
  const s = o.scenario;
  const real = o.emulatorScenario;
  if (real && (real.ieds !== s.ieds || real.edgeServers !== s.edgeServers)) throw new InputError(`the emulated plant has ${real.ieds} IEDs × ${real.edgeServers} edge servers, the scenario ${s.ieds} × ${s.edgeServers}`);
  // what the devices physically do: the trained scenario with the real plant's radio and edge settings
  const physical: Scenario = real ? { ...s, radio: real.radio, edge: real.edge } : s;
  const ranges = gatewayRanges(s.ieds, o.gateways ?? 1);
  const epochMs = o.epochMs ?? PLANT_EPOCH_MS;
  const kpi = await KpiMonitor.create(await connect('gmel-kpi'), () => clock.now());
  const mirror = await TwinMirror.create(await connect('gmel-twin', { kind: 'twin', id: 'mirror' }), { scenario: s, epochMs, now: () => clock.now(), ...(o.twinWindowSlots ? { windowSlots: o.twinWindowSlots } : {}) });
  const edges: EdgeServerRuntime[] = [];
  for (let m = 1; m <= s.edgeServers; m++)
    edges.push(await EdgeServerRuntime.create({ scenario: physical, edgeServerId: m, mqtt: await connect(`gmel-edge-${m}`, { kind: 'edge', id: String(m) }), clock, epochMs, logger: o.logger.child({ edge: m }) }));
  const gateways: IedGatewayRuntime[] = [];
  try {
    for (const ieds of ranges) {
      // one gateway: "all", as before; a fleet: each by its range, as `gmel ied --ieds a-b` names itself
      const id = ranges.length === 1 ? 'all' : `${ieds[0]}-${ieds[ieds.length - 1]}`;
      const model = await loadModelHandle(o.modelPath, s, ieds, o.engine ?? 'node');
      const gateway = await IedGatewayRuntime.create({ scenario: physical, iedIds: ieds, model, mqtt: await connect(`gmel-ied-${id}`, { kind: 'ied', id, modelVersion: model.version }), clock, epochMs, logger: o.logger.child({ gateway: id }) }).catch(async (err: unknown) => {
        await releaseModel(model);
        throw err;
      });
      gateways.push(gateway);
    }
  } catch (err) {
    // a gateway that cannot start (its model, its broker client) takes down what started before it:
    // a caller that catches the error is not left with live runtimes and connections
    for (const g of gateways) await g.close().then(() => releaseModel(g.currentModel)).catch(() => {});
    for (const e of edges) await e.close().catch(() => {});
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await embedded?.close();
    throw err;
  }
  const emulator = PlantEmulator.create({ scenario: o.emulatorScenario ?? s, mqtt: await connect('gmel-emulator', { kind: 'emulator', id: 'plant' }), clock, epochMs, seed: o.seed ?? 1, logger: o.logger.child({ emulator: true }), ...(o.spreadWithinSlot ? { spreadWithinSlot: true } : {}) });
  let stopped = false;
  return {
    brokerUrl: url,
    epochMs,
    startedAt: clock.now(),
    kpi,
    mirror,
    emulator,
    gateways,
    edges,
    async stop(drain = true) {
      if (stopped) return;
      stopped = true;
      emulator.stop();
      if (drain) {
        // until every accepted task has its outcome (the gateway's watchdog bounds the wait)
        const limit = clock.now() + (s.task.deadlineSeconds.max * 1000 + OFFLOAD_GRACE_MS + 2000);
        await new Promise((r) => setTimeout(r, 300));
        while (clock.now() < limit && gateways.some((g) => g.pending > 0)) await new Promise((r) => setTimeout(r, 100));
        await new Promise((r) => setTimeout(r, 300)); // let the last results reach the monitor
      }
      for (const g of gateways) await g.close();
      for (const e of edges) await e.close();
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
      for (const g of gateways) await releaseModel(g.currentModel);
      await embedded?.close();
    },
  };
}
