/**
 * Connecting a runtime to the broker the same way everywhere.
 *
 * | option            | default | why                                                                |
 * |-------------------|---------|--------------------------------------------------------------------|
 * | protocolVersion   | 5, then 4 | MQTT 5 for message expiry; aedes 1.x speaks 3.1.1 only          |
 * | clean             | false   | a persistent session keeps QoS 1 messages for us while we are away |
 * | reconnectPeriod   | 1000 ms | mqtt.js's fixed back-off                                           |
 * | url               | one URL or a comma-separated list (a broker cluster's nodes): the first that answers at start; on a lost connection mqtt.js tries the next node, round the list |
 * | online status     | published at connect and again after every reconnect: the Will may have said "offline" meanwhile |
 * | will              | status "offline", retained | the device's death certificate (Sparkplug-style) |
 * | username/password | none    | passed through when given                                          |
 * | TLS               | by URL  | mqtts://host:8883 with `ca` (PEM) to trust a private CA; certificates verified |
 * | socket writes     | one per event-loop turn | coalesceWrites: a burst of packets leaves in one writev |
 */
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import { encode } from './codec.ts';
import { topics } from './topics.ts';
import { brokerUrls, clientAuthOptions, type BrokerAuth } from './broker-options.ts';
import { publishOptions, PUBLISH_RULES } from './publish-options.ts';

export interface ConnectOptions {
  /** one broker URL, or a comma-separated list of a cluster's nodes (broker-options.ts) */
  readonly url: string;
  readonly clientId: string;
  /** for the Last Will and the online status */
  readonly device?: { kind: 'ied' | 'edge' | 'emulator' | 'twin'; id: string; modelVersion?: string };
  readonly username?: string;
  readonly password?: string;
  /** force a protocol version instead of trying 5 then 4 */
  readonly protocolVersion?: 4 | 5;
  /** TLS (mqtts:// URLs): PEM of the CA that signed the broker's certificate */
  readonly ca?: string;
  /**
   * Hold the PUBACK of a message that arrives before listen() until a handler has taken it (a
   * journaling gateway: acknowledged = on disk). Only for a client that calls listen() right after
   * connecting: mqtt.js reads nothing else (not even a SUBACK) while a PUBACK is held.
   */
  readonly ackAfterListen?: boolean;
  /** how long messages that arrive before listen() wait for it before they are let go (default 30 s; never with ackAfterListen) */
  readonly earlyHoldMs?: number;
}

function statusPayload(device: NonNullable<ConnectOptions['device']>, state: 'online' | 'offline'): string {
  return encode('status', { v: 1, kind: device.kind, id: device.id, state, at: Date.now(), ...(device.modelVersion ? { modelVersion: device.modelVersion } : {}) });
}

/**
 * QoS 1 messages a persistent session kept for us arrive right after CONNACK, before a runtime has
 * attached its handler (listen() comes after subscriptions, imports…). They are held here until
 * listen() takes them, and so are their PUBACKs: mqtt.js sends a PUBACK when `handleMessage` calls
 * back, and it reads no further packet until then, so at most one message waits unacknowledged and
 * the broker keeps it (and everything after it) until a runtime has handled it, e.g. journaled it.
 */
const EARLY_HOLD_MS = 30_000;
const EARLY_LIMIT = 100_000;
interface Early {
  readonly messages: [string, Buffer][];
  readonly listener: (topic: string, payload: Buffer) => void;
  /** the acknowledgements held back (mqtt.js's handleMessage callbacks) */
  readonly acks: (() => void)[];
  readonly handleMessage: MqttClient['handleMessage'];
}
const early = new WeakMap<MqttClient, Early>();

/**
 * Hands the messages that arrived before anyone listened to `handle`, in order, then lets their
 * acknowledgements go; later messages go to the caller's own 'message' listener.
 */
export function takeEarlyMessages(client: MqttClient, handle: (topic: string, payload: Buffer) => void = () => {}): void {
  const held = early.get(client);
  if (!held) return;
  client.removeListener('message', held.listener);
  early.delete(client);
  client.handleMessage = held.handleMessage;
  for (const [topic, payload] of held.messages) handle(topic, payload);
  for (const ack of held.acks) ack();
}

/**
 * Holds the client's socket writes from its first packet in an event-loop turn until that turn's
 * check phase (setImmediate), so the PUBACKs, decisions and results of a burst leave in one writev.
 * mqtt-packet corks only until the next tick, which mqtt.js reaches after every incoming packet:
 * at 5,000 tasks/s one writev per packet was a fifth of the gateway's CPU (a --cpu-prof profile of
 * `npm run bench -- journal`). The delay is at most the rest of the current turn; nothing is reordered.
 */
export function coalesceWrites(client: MqttClient): void {
  let held: MqttClient['stream'] | undefined;
  client.on('packetsend', () => {
    const stream = client.stream;
    if (stream === held || typeof stream?.cork !== 'function') return;
    held = stream;
    stream.cork();
    setImmediate(() => {
      if (held === stream) held = undefined;
      stream.uncork();
    });
  });
}

/** mqtt.connectAsync(url, opts, false), with the early-message buffer attached before CONNACK. */
function connectHolding(url: string, options: IClientOptions, ackAfterListen: boolean, holdMs: number): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, options);
    coalesceWrites(client);
    const messages: [string, Buffer][] = [];
    const listener = (topic: string, payload: Buffer) => {
      if (messages.length < EARLY_LIMIT) messages.push([topic, payload]);
    };
    client.on('message', listener);
    const acks: (() => void)[] = [];
    const handleMessage = client.handleMessage;
    if (ackAfterListen) {
      client.handleMessage = (packet, callback) => {
        acks.push(() => handleMessage.call(client, packet, callback));
      };
    }
    early.set(client, { messages, listener, acks, handleMessage });
    const done = () => {
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
    };
    const onConnect = () => {
      done();
      // clients that never call listen() (publishers, monitors with their own handler) stop holding soon;
      // not one that holds acknowledgements: releasing them unhandled would lose what they acknowledge
      if (!ackAfterListen) setTimeout(() => takeEarlyMessages(client), holdMs).unref();
      resolve(client);
    };
    const onError = (err: Error) => {
      done();
      client.end(true);
      reject(err);
    };
    const onClose = () => onError(new Error("couldn't connect to the server"));
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
  });
}

export async function connectMqtt(opts: ConnectOptions): Promise<MqttClient> {
  const base: IClientOptions = {
    clientId: opts.clientId,
    clean: false,
    reconnectPeriod: 1000,
    connectTimeout: 5000,
    // mqtt-packet's number cache is 65,536 two-byte Buffers made on the first write (~6 MB of heap and
    // ~25 ms on a gateway without the optimizing compiler); a packet's few numbers are cheap to make
    writeCache: false,
    ...clientAuthOptions(opts),
    ...(opts.device
      ? { will: { topic: topics.status(opts.device.kind, opts.device.id), payload: Buffer.from(statusPayload(opts.device, 'offline')), qos: PUBLISH_RULES.status.qos, retain: PUBLISH_RULES.status.retain } }
      : {}),
  };
  const versions: (4 | 5)[] = opts.protocolVersion ? [opts.protocolVersion] : [5, 4];
  const urls = brokerUrls(opts.url);
  const servers = urls.map((u) => {
    const { hostname, port, protocol } = new URL(u);
    // (an IPv6 literal keeps its brackets in URL.hostname; a socket wants the bare address)
    return { host: hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(port || (protocol === 'mqtts:' ? 8883 : 1883)), protocol: protocol.replace(/:$/, '') as 'mqtt' | 'mqtts' };
  });
  let lastError: unknown;
  for (let k = 0; k < urls.length; k++) {
    // mqtt.js takes servers[0] first, then the next one on each reconnect: start from the node that answers
    const rotated = urls.length > 1 ? { servers: [...servers.slice(k), ...servers.slice(0, k)] } : {};
    for (const protocolVersion of versions) {
      try {
        const client = await connectHolding(urls[k] as string, { ...base, ...rotated, protocolVersion, ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}) }, opts.ackAfterListen === true, opts.earlyHoldMs ?? EARLY_HOLD_MS);
        // mqtt.js's TLS layer names the server (SNI, the certificate check) only when no name is set,
        // and keeps the first node's: the next node must be checked against its own name
        if (urls.length > 1) client.on('reconnect', () => delete client.options.servername);
        return await connected(client, opts);
      } catch (err) {
        lastError = err;
      }
    }
  }
  throw new Error(`cannot connect to ${opts.url} as ${opts.clientId}: ${(lastError as Error)?.message ?? String(lastError)}`);
}

/** The address of the node a client is connected to now (mqtt.js moves along its servers list). */
export function connectedBroker(client: MqttClient): string {
  const o = client.options;
  return `${o.protocol ?? 'mqtt'}://${o.hostname ?? o.host ?? '?'}:${o.port ?? '?'}`;
}

/** After CONNACK: no Nagle delay, and the device's online status now and after every reconnect. */
async function connected(client: MqttClient, opts: ConnectOptions): Promise<MqttClient> {
  // decisions are latency-bound: no Nagle delay on our side of the TCP connection (mqtt.js leaves it on)
  const noDelay = () => (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
  noDelay();
  client.on('connect', noDelay);
  if (opts.device) {
    const device = opts.device;
    const online = () => client.publishAsync(topics.status(device.kind, device.id), statusPayload(device, 'online'), publishOptions('status'));
    // a reconnect follows a lost connection, after which the broker (or the cluster) may have sent our
    // Will: the retained status must say online again (mqtt.js resends it until it is acknowledged)
    client.on('connect', () => void online().catch(() => {}));
    // the Will can also come later (a cluster node that lost us notices only after its keepalive
    // timeout, when we are already back on another node): we read our own status and answer an
    // offline with online while we are connected. Only Wills say offline, so two processes under one
    // status id (two `gmel twin`s are both twin/mirror) cannot loop: the live one overwrites a dead
    // one's Will. Under an ACL generated before this, the subscription is refused and this stays off
    // (regenerate it: `gmel deploy acl`).
    const own = topics.status(device.kind, device.id);
    client.on('message', (topic, payload) => {
      if (topic === own && client.connected && !client.disconnecting && payload.includes('"state":"offline"')) void online().catch(() => {});
    });
    client.subscribe(own, { qos: 1 });
    // its PUBACK may queue behind a held one (ackAfterListen): mqtt.js resends it until it is acknowledged
    if (opts.ackAfterListen) online().catch(() => {});
    else
      await online().catch((err: unknown) => {
        client.end(true);
        throw err;
      });
  }
  return client;
}

/**
 * A one-shot command's client (`gmel deploy desire|rollout`): a clean session, no reconnects; the
 * nodes of a list are tried in turn, so that one node down does not stop the command.
 */
export async function connectOnce(opts: { url: string; clientId: string } & BrokerAuth): Promise<MqttClient> {
  const urls = brokerUrls(opts.url);
  const errors: string[] = [];
  let last: unknown;
  for (const url of urls) {
    try {
      return await mqtt.connectAsync(url, { clientId: opts.clientId, reconnectPeriod: 0, connectTimeout: 5000, ...clientAuthOptions(opts) });
    } catch (err) {
      last = err;
      errors.push(`${url}: ${(err as Error).message}`);
    }
  }
  if (urls.length === 1) throw last; // as it came (its system error code names the cause for the CLI)
  throw Object.assign(new Error(`cannot connect to any broker of the list (${errors.join('; ')})`), { code: (last as { code?: string })?.code });
}

/** Backoff of a daemon waiting for its broker: 0.5 s, doubling, at most 30 s between tries. */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;

/** A broker that answered and refused us: trying again cannot help (MQTT 5 §3.2.2.2 reason codes). */
function refusedForGood(err: unknown): boolean {
  return /not authori[sz]ed|bad user ?name or password|banned|identifier rejected|client identifier not valid/i.test((err as Error)?.message ?? '');
}

/** A lost connection and the reconnect after it, each said once, with the node and the gap. */
function logFailover(client: MqttClient, log: (line: string) => void): void {
  let lostAt: number | undefined;
  client.on('close', () => {
    if (lostAt !== undefined || client.disconnecting) return; // our own end() is no loss
    lostAt = Date.now();
    log(`lost the connection to ${connectedBroker(client)}: reconnecting every ${client.options.reconnectPeriod ?? 1000} ms${client.options.servers ? ', going round the list of brokers' : ''}`);
  });
  client.on('connect', () => {
    if (lostAt === undefined) return;
    log(`reconnected to ${connectedBroker(client)} ${Date.now() - lostAt} ms after the connection was lost`);
    lostAt = undefined;
  });
}

/**
 * connectMqtt for a daemon (`gmel ied`, `gmel edge`, `gmel twin`): a broker that is not up yet is
 * waited for with backoff, said once (`log`), instead of ending the process; a broker that refuses
 * our credentials ends it with the reason. `signal` stops the waiting.
 */
export async function connectWithRetry(opts: ConnectOptions, log: (line: string) => void, signal?: AbortSignal): Promise<MqttClient> {
  let delay = RETRY_FIRST_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      const client = await connectMqtt(opts);
      if (attempt > 1) log(`connected to ${connectedBroker(client)} after ${attempt} tries`);
      logFailover(client, log);
      return client;
    } catch (err) {
      if (refusedForGood(err) || signal?.aborted) throw err;
      if (attempt === 1) log(`${(err as Error).message}: retrying with backoff (up to ${RETRY_MAX_MS / 1000} s between tries) until it answers`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(RETRY_MAX_MS, delay * 2);
    }
  }
}

/**
 * Ends a runtime's connection without acknowledging anything it will not handle. From the call on,
 * incoming messages are neither handed to the runtime nor acknowledged (they stay with the broker, in
 * the persistent session, for the next process); then it waits (up to `timeoutMs`) until `unsent()` is
 * 0 and the broker has acknowledged every QoS 1 message we sent, and closes. mqtt.js's own end() would
 * keep acknowledging what arrives while it waits, for messages whose outcome could no longer leave.
 */
export async function endAfterAcks(client: MqttClient, unsent: () => number, timeoutMs = 5000): Promise<void> {
  client.removeAllListeners('message');
  // an error from handleMessage: mqtt.js sends no PUBACK and goes on reading (our own PUBACKs, too)
  client.handleMessage = (_packet, callback) => callback?.(new Error('closing: left to the broker for the next session'));
  const until = Date.now() + timeoutMs;
  // publishes handed to mqtt.js: in flight, or queued while it replays its store after a reconnect
  const inFlight = () => Object.keys(client.outgoing).length + ((client as unknown as { _storeProcessingQueue?: unknown[] })._storeProcessingQueue?.length ?? 0);
  while ((unsent() > 0 || inFlight() > 0) && client.connected && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  await client.endAsync(true);
}
