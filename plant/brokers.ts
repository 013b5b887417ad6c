/**
 * Brokers on this machine: the embedded aedes that `gmel up` runs, and a real Mosquitto started on a
 * free loopback port (tests and benches; skipped where it is not installed).
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';

export interface LocalBroker {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The embedded broker `gmel up` runs by default (aedes, MQTT 3.1.1) on 127.0.0.1:`port` (0: any free
 * port). No Nagle delay on the broker's side either: a decision is a few hundred bytes that must go now.
 */
export async function startEmbeddedBroker(port = 0): Promise<LocalBroker> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${actual}`,
    port: actual,
    close: () => new Promise<void>((resolve) => {
      server.close(() => broker.close(() => resolve()));
      // server.close() waits for every connection to end: drop the live ones (a client of another
      // process still shutting down, one that never disconnects) so close() returns
      for (const socket of sockets) socket.destroy();
    }),
  };
}

export const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p));
export const hasMosquitto = MOSQUITTO !== undefined && spawnSync(MOSQUITTO, ['-h']).error === undefined;

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** More for a test's Mosquitto: files written into its folder first, then lines appended to its config. */
export interface MosquittoExtra {
  /** file name → contents, written (mode 0600) into the broker's own folder */
  readonly files?: Readonly<Record<string, string>>;
  /** config lines appended, or made from the broker's folder; one that sets `allow_anonymous` replaces the default `allow_anonymous true` */
  readonly config?: string | ((dir: string) => string);
}

/** A Mosquitto on a fresh port; restart() brings it back on the same port (broker-loss tests). */
export async function startMosquitto(extra: MosquittoExtra = {}): Promise<LocalBroker & { stop(): Promise<void>; restart(): Promise<void>; /** the broker's process id while it runs (benches read its CPU) */ pid(): number | undefined }> {
  if (!MOSQUITTO) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gmel-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  for (const [name, text] of Object.entries(extra.files ?? {})) writeFileSync(join(dir, name), text, { mode: 0o600 });
  const more = typeof extra.config === 'function' ? extra.config(dir) : extra.config ?? '';
  const anonymous = /^\s*allow_anonymous\s/m.test(more) ? '' : 'allow_anonymous true\n';
  writeFileSync(conf, `listener ${port} 127.0.0.1\n${anonymous}persistence true\npersistence_location ${dir}/\nmax_queued_messages 100000\nmax_inflight_messages 1000\nset_tcp_nodelay true\n${more}`);
  let child: ChildProcess | undefined;
  const up = async () => {
    child = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
    for (let k = 0; k < 50; k++) {
      const ok = await new Promise<boolean>((resolve) => {
        const sock = createServer().listen(port, '127.0.0.1');
        sock.once('error', () => resolve(true));
        sock.once('listening', () => sock.close(() => resolve(false)));
      });
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`mosquitto did not start on port ${port}`);
  };
  const down = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  };
  await up();
  return { url: `mqtt://127.0.0.1:${port}`, port, close: down, stop: down, restart: up, pid: () => child?.pid };
}
