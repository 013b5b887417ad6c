/**
 * The broker flags of every command that connects (runtimes, `gmel up --broker`, `gmel twin`,
 * `gmel deploy desire|rollout`): declared once, turned into connectMqtt's options once.
 *
 * | flag          | meaning                                    |
 * |---------------|--------------------------------------------|
 * | --broker      | mqtt:// or mqtts:// URL, or a comma-separated list of them (the nodes of a broker cluster: tried in turn at start, failed over to on a lost connection) |
 * | --username    | MQTT username (CONNECT, MQTT 5 §3.1.3.5)   |
 * | --password    | MQTT password                              |
 * | --ca-file     | PEM CA certificate for an mqtts:// broker  |
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { UsageError } from '../core/errors.ts';

export interface BrokerFlags {
  broker?: string;
  username?: string;
  password?: string;
  caFile?: string;
}

export interface BrokerAuth {
  username?: string;
  password?: string;
  ca?: string;
}

const BROKER_SCHEMES = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];

/** A list longer than this is refused (each node is tried in turn at start). */
const MAX_BROKER_URLS = 16;

/** The URLs of a `--broker` value: one, or a comma-separated list (a cluster's nodes). */
export function brokerUrls(text: string): string[] {
  return text.split(',').map((u) => u.trim()).filter(Boolean);
}

/**
 * A broker URL, or a comma-separated list of them, that mqtt.js can use: refused at the flag, not as a
 * protocol error from a raw socket. The nodes of a list share one scheme (mqtt.js keeps one TLS setup).
 */
export function parseBrokerUrl(text: string): string {
  const urls = brokerUrls(text);
  if (urls.length === 0) throw new InvalidArgumentError('expected a URL such as mqtt://host:1883 or mqtts://host:8883');
  if (urls.length > MAX_BROKER_URLS) throw new InvalidArgumentError(`at most ${MAX_BROKER_URLS} broker URLs`);
  const schemes = new Set(urls.map(checkBrokerUrl));
  if (schemes.size > 1) throw new InvalidArgumentError(`the broker URLs mix schemes (${[...schemes].join(', ')}): a cluster's nodes are all mqtt:// or all mqtts://`);
  // mqtt.js's list of servers carries host, port and scheme only (no WebSocket path)
  if (urls.length > 1 && !schemes.has('mqtt:') && !schemes.has('mqtts:')) throw new InvalidArgumentError('a list of brokers takes mqtt:// or mqtts:// URLs (one WebSocket URL works alone)');
  return urls.join(',');
}

/** One URL; returns its scheme. */
function checkBrokerUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError(`expected a URL such as mqtt://host:1883 or mqtts://host:8883, got "${text}"`);
  }
  if (!BROKER_SCHEMES.includes(url.protocol)) throw new InvalidArgumentError(`the scheme must be one of ${BROKER_SCHEMES.map((s) => `${s}//`).join(', ')}`);
  if (!url.hostname) throw new InvalidArgumentError(`no host in the URL ${text}`);
  return url.protocol;
}

/** Adds the four broker flags; `defaultUrl` null leaves --broker unset by default (e.g. `gmel up`: embedded). */
export function brokerOptions(cmd: Command, defaultUrl: string | null = 'mqtt://127.0.0.1:1883', description = 'MQTT broker URL'): Command {
  const broker = new Option('--broker <url>', description).argParser(parseBrokerUrl);
  return cmd
    .addOption(defaultUrl === null ? broker : broker.default(defaultUrl))
    .option('--username <u>', 'MQTT username')
    .option('--password <p>', 'MQTT password')
    .option('--ca-file <pem>', 'CA certificate for an mqtts:// broker');
}

/** The credentials and CA the flags name (the CA file read now, so a bad path is a usage error). */
export function brokerAuth(o: BrokerFlags): BrokerAuth {
  let ca: string | undefined;
  if (o.caFile !== undefined) {
    try {
      ca = readFileSync(o.caFile, 'utf8');
    } catch (err) {
      throw new UsageError(`--ca-file ${o.caFile}: ${(err as Error).message}`);
    }
  }
  return {
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(ca !== undefined ? { ca } : {}),
  };
}

/** mqtt.js connect options for the credentials: TLS verifies the broker against `ca` when given. */
export function clientAuthOptions(a: BrokerAuth): { username?: string; password?: string; ca?: string; rejectUnauthorized?: boolean } {
  return {
    ...(a.username !== undefined ? { username: a.username } : {}),
    ...(a.password !== undefined ? { password: a.password } : {}),
    ...(a.ca !== undefined ? { ca: a.ca, rejectUnauthorized: true } : {}),
  };
}
