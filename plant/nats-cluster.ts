/**
 * A broker cluster on this machine: `nodes` nats-server processes (Debian's nats-server 2.9) routed
 * into one cluster, each with JetStream and its MQTT 3.1.1 listener on a free loopback port. NATS keeps
 * MQTT sessions, retained messages and QoS 1 messages in JetStream streams, replicated over the nodes
 * (`stream_replicas`), so a client whose node dies resumes its persistent session on another node.
 * Tests and benches use it (skipped where nats-server is not installed); docs/scale-out.md says why NATS.
 *
 * | per node     | value                                                                  |
 * |--------------|------------------------------------------------------------------------|
 * | server_name  | n1 … nN (JetStream in a cluster needs one)                             |
 * | listen       | 127.0.0.1, free port (NATS clients; the cluster's own protocol)         |
 * | cluster      | name "gmel", routes to every node                                      |
 * | jetstream    | store in the cluster's temp folder, per node (survives a node restart) |
 * | mqtt         | 127.0.0.1, free port; stream_replicas = min(3, nodes); NATS's other defaults |
 *
 * Measured here (docs/scale-out.md): NATS backs every QoS 1 subscription with a JetStream consumer,
 * and the consumers' max_ack_pending add up to at most 65,536: at the default 1,024 the 64th QoS 1
 * subscription is refused, so this cluster carries small plants only (the test: 8 IEDs). Tried and
 * dropped: max_ack_pending 16 (4,095 subscriptions, but after a node loss most tasks stalled
 * undecided, also with ack_wait 2 s) and consumer_replicas 1 (a node's loss took its consumers).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './brokers.ts';

export const NATS_SERVER = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p));
export const hasNatsServer = NATS_SERVER !== undefined && spawnSync(NATS_SERVER, ['--version']).error === undefined;

export interface NatsCluster {
  /** every node's MQTT URL, comma-separated: what `--broker` takes for a cluster */
  readonly url: string;
  /** node k's MQTT URL (k from 0) */
  readonly urls: readonly string[];
  /** SIGKILL node k (its JetStream store stays on disk) */
  kill(k: number): Promise<void>;
  /** start node k again on the same ports and store; resolves when its MQTT port answers */
  restart(k: number): Promise<void>;
  /**
   * Resolves when node k's MQTT takes a persistent session and a QoS 1 subscription: after a node is
   * lost, JetStream elects new leaders for the MQTT streams first (seconds; nats-server's Raft timings)
   */
  ready(k: number): Promise<void>;
  /** the nodes' process ids while they run (benches read their CPU) */
  pids(): (number | undefined)[];
  close(): Promise<void>;
}

const PORT_WAIT_MS = 15_000;

async function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitForPort(port: number, what: string): Promise<void> {
  const until = Date.now() + PORT_WAIT_MS;
  while (!(await portAnswers(port))) {
    if (Date.now() > until) throw new Error(`${what}: port ${port} did not open within ${PORT_WAIT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startNatsCluster(nodes = 3): Promise<NatsCluster> {
  if (!NATS_SERVER) throw new Error('nats-server is not installed (apt-get install nats-server)');
  const binary = NATS_SERVER;
  const dir = mkdtempSync(join(tmpdir(), 'gmel-nats-'));
  const ports: { client: number; route: number; mqtt: number }[] = [];
  for (let k = 0; k < nodes; k++) ports.push({ client: await freePort(), route: await freePort(), mqtt: await freePort() });
  const routes = ports.map((p) => `nats-route://127.0.0.1:${p.route}`).join(', ');
  const configs = ports.map((p, k) => {
    const file = join(dir, `n${k + 1}.conf`);
    writeFileSync(file, [
      `server_name: n${k + 1}`,
      `listen: 127.0.0.1:${p.client}`,
      `jetstream { store_dir: "${join(dir, `js${k + 1}`)}" }`,
      `cluster { name: gmel, listen: 127.0.0.1:${p.route}, routes: [${routes}] }`,
      `mqtt { listen: 127.0.0.1:${p.mqtt}, stream_replicas: ${Math.min(3, nodes)} }`,
      '',
    ].join('\n'));
    return file;
  });
  const procs: (ChildProcess | undefined)[] = [];
  const start = async (k: number) => {
    const child = spawn(binary, ['-c', configs[k] as string], { stdio: 'ignore' });
    procs[k] = child;
    await waitForPort((ports[k] as { mqtt: number }).mqtt, `nats-server n${k + 1}`);
  };
  const stop = async (k: number, signal: NodeJS.Signals) => {
    const child = procs[k];
    procs[k] = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return; // gone already (killed, or died)
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  };
  const urls = ports.map((p) => `mqtt://127.0.0.1:${p.mqtt}`);
  try {
    await Promise.all(ports.map((_, k) => start(k)));
    // an MQTT client needs the JetStream meta leader (its session streams): wait until one is elected
    await waitForMqttReady(urls[0] as string);
  } catch (err) {
    await Promise.all(procs.map((_, k) => stop(k, 'SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: urls.join(','),
    urls,
    kill: (k) => stop(k, 'SIGKILL'),
    restart: (k) => start(k),
    ready: (k) => waitForMqttReady(urls[k] as string),
    pids: () => procs.map((p) => p?.pid),
    close: async () => {
      await Promise.all(procs.map((_, k) => stop(k, 'SIGTERM')));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Until an MQTT 3.1.1 client can connect and subscribe at QoS 1 (JetStream ready), or 60 s. */
async function waitForMqttReady(url: string): Promise<void> {
  const { default: mqtt } = await import('mqtt');
  const until = Date.now() + 60_000;
  for (let k = 0; ; k++) {
    try {
      const c = await mqtt.connectAsync(url, { clientId: `gmel-nats-ready-${process.pid}-${k}`, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000 }, false);
      await c.subscribeAsync('gmel/ready', { qos: 1 });
      await c.unsubscribeAsync('gmel/ready');
      await c.endAsync(true);
      return;
    } catch (err) {
      if (Date.now() > until) throw new Error(`the NATS cluster's MQTT did not become ready: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
