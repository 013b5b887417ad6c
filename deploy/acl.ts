/**
 * `gmel deploy acl`: who may say what on the broker (issue #10). From the plant (I IEDs, M edge
 * servers) and the topic tree (protocol/topics.ts), one broker identity per device or service, each
 * allowed only the topics its role publishes or reads (docs/protocol.md), rendered for Mosquitto:
 *
 * | file              | what                                                                         |
 * |-------------------|------------------------------------------------------------------------------|
 * | `mosquitto.acl`   | `user <name>` blocks of `topic read\|write\|readwrite <topic>` lines          |
 * | `passwd`          | `user:$7$<iterations>$<salt>$<hash>` lines: PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte hash, base64 (mosquitto_passwd's format) |
 * | `credentials.json`| the random passwords, mode 0600: the secret to provision to each device out of band |
 * | `mosquitto.conf`  | the snippet: no anonymous clients, the two files, client id = username        |
 *
 * | identity       | publishes                                                        | reads |
 * |----------------|------------------------------------------------------------------|-------|
 * | `ied-<i>`      | its decision, result, model/reported, offloads to any edge server, its status, its band report (`band/<i>`) | its task, edge-result, desired model; every edge state and band report |
 * | `gateway-<a>-<b>` | the same for each IED a..b (one gateway process serving them, `gmel ied --ieds a-b`); its band report as `band/<a>` | the same |
 * | `edge-<m>`     | edge results for any IED under its own id (`ied/+/edge-result/<m>`), its state, its status | its offloads |
 * | `plant`        | tasks for any IED, its status (`emulator/plant`)                 | its own status (every device reads its own: a late Will is answered) |
 * | `twin`         | its status (`twin/mirror`)                                       | everything under gmel/v1 |
 * | `rollout`      | desired models (the only one)                                    | reported models, decisions, results |
 * | `operator`     | —                                                                | everything under gmel/v1 |
 *
 * Everything here is pure but the random draws (passwords, salts), which callers may pass in.
 */
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../core/errors.ts';
import { ROOT, subscriptions, topics } from '../protocol/topics.ts';

export type Access = 'read' | 'write' | 'readwrite';
export interface Rule {
  readonly access: Access;
  readonly topic: string;
}
export type Role = 'gateway' | 'edge' | 'plant' | 'twin' | 'rollout' | 'operator';
export interface Identity {
  readonly username: string;
  readonly role: Role;
  readonly rules: readonly Rule[];
  /** gateways: the IEDs served; edge servers: the server id */
  readonly ieds?: readonly number[];
  readonly edgeServer?: number;
}

/** IEDs first..last served by one gateway identity `gateway-<first>-<last>`. */
export interface GatewayRange {
  readonly first: number;
  readonly last: number;
}

export interface AclPlant {
  readonly ieds: number;
  readonly edgeServers: number;
  /** IED ranges each served by one gateway identity; every other IED gets its own `ied-<i>` */
  readonly gateways?: readonly GatewayRange[];
}

/** Mosquitto's mosquitto_passwd defaults: PBKDF2-SHA512, 101 iterations, 12-byte salt. */
export const PASSWD_ITERATIONS = 101;
const SALT_BYTES = 12;
const HASH_BYTES = 64;
/** 24 random bytes (192 bits): no dictionary to attack, so the iteration count does not matter */
const PASSWORD_BYTES = 24;

/** a topic function of protocol/topics.ts with `+` in place of its id */
const ANY = 918273645;
const anyId = (topic: (id: number) => string): string => topic(ANY).split(`/${ANY}/`).join('/+/');
const EVERYTHING = `${ROOT}/#`;

const read = (topic: string): Rule => ({ access: 'read', topic });
const write = (topic: string): Rule => ({ access: 'write', topic });
/** a device's own status: it publishes it and reads it back, to answer a late Will (protocol/mqtt.ts) */
const ownStatus = (kind: string, id: string | number): Rule => ({ access: 'readwrite', topic: topics.status(kind, id) });

/** The status id a gateway publishes under: its `--ieds` text (`gmel ied --ieds 7` → `7`, `--ieds 0-49` → `0-49`). */
export const gatewayStatusId = (r: GatewayRange): string => (r.first === r.last ? String(r.first) : `${r.first}-${r.last}`);

/** A gateway serving IEDs `r`: per IED its task, edge results and desired model in, its outcomes out. */
export function gatewayRules(r: GatewayRange): Rule[] {
  const rules: Rule[] = [];
  for (let i = r.first; i <= r.last; i++) rules.push(read(topics.task(i)), read(topics.edgeResultsOf(i)), read(topics.desiredModel(i)));
  rules.push(read(subscriptions.allEdgeStates), read(subscriptions.allBands));
  for (let i = r.first; i <= r.last; i++) rules.push(write(topics.decision(i)), write(topics.result(i)), write(topics.reportedModel(i)));
  rules.push(write(subscriptions.allOffloads), ownStatus('ied', gatewayStatusId(r)), write(topics.band(r.first)));
  return rules;
}

/**
 * Edge server m: its offloads in; its state, its status and edge results out, for any IED (the
 * broker cannot know which tasks were offloaded to m) but only under its own server id, so the gateway
 * knows who sent each result from the topic and refuses results for tasks it offloaded elsewhere.
 */
export function edgeRules(m: number): Rule[] {
  return [read(topics.offload(m)), write(anyId((i) => topics.edgeResult(i, m))), write(topics.edgeState(m)), ownStatus('edge', m)];
}

/** The plant's services: task announcer, twin, rollout, read-only operator. */
export function serviceIdentities(): Identity[] {
  return [
    { username: 'plant', role: 'plant', rules: [write(subscriptions.allTasks), ownStatus('emulator', 'plant')] },
    { username: 'twin', role: 'twin', rules: [read(EVERYTHING), ownStatus('twin', 'mirror')] },
    { username: 'rollout', role: 'rollout', rules: [write(subscriptions.allDesiredModels), read(subscriptions.allReportedModels), read(subscriptions.allDecisions), read(subscriptions.allResults)] },
    { username: 'operator', role: 'operator', rules: [read(EVERYTHING)] },
  ];
}

/** `7` or `0-49` → a range inside 0..count−1. */
export function parseGatewayRange(text: string, count: number, flag = '--gateway'): GatewayRange {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag}: "${text}" is not an IED id or a range a-b`);
  const first = Number(m[1]);
  const last = m[2] === undefined ? first : Number(m[2]);
  if (last < first) throw new UsageError(`${flag}: "${text}" runs backwards`);
  if (last >= count) throw new UsageError(`${flag}: IED ${last} is not in 0..${count - 1}`);
  return { first, last };
}

/** Every identity of the plant, services first, then gateways by first IED, then edge servers. */
export function plantIdentities(p: AclPlant): Identity[] {
  const ranges = [...(p.gateways ?? [])].sort((a, b) => a.first - b.first);
  for (let k = 1; k < ranges.length; k++) {
    const prev = ranges[k - 1] as GatewayRange;
    const cur = ranges[k] as GatewayRange;
    if (cur.first <= prev.last) throw new UsageError(`gateways ${gatewayStatusId(prev)} and ${gatewayStatusId(cur)} share IEDs: each IED has one gateway`);
  }
  const covered = new Set(ranges.flatMap((r) => Array.from({ length: r.last - r.first + 1 }, (_, k) => r.first + k)));
  const gateways: { name: string; range: GatewayRange }[] = ranges.map((r) => ({ name: `gateway-${gatewayStatusId(r)}`, range: r }));
  for (let i = 0; i < p.ieds; i++) if (!covered.has(i)) gateways.push({ name: `ied-${i}`, range: { first: i, last: i } });
  gateways.sort((a, b) => a.range.first - b.range.first);
  return [
    ...serviceIdentities(),
    ...gateways.map(({ name, range }): Identity => ({ username: name, role: 'gateway', rules: gatewayRules(range), ieds: Array.from({ length: range.last - range.first + 1 }, (_, k) => range.first + k) })),
    ...Array.from({ length: p.edgeServers }, (_, k): Identity => ({ username: `edge-${k + 1}`, role: 'edge', rules: edgeRules(k + 1), edgeServer: k + 1 })),
  ];
}

/** The Mosquitto ACL file: no rule for anonymous clients, one `user` block per identity. */
export function renderAcl(ids: readonly Identity[], header = 'generated by `gmel deploy acl` (docs/security.md): edit the plant, not this file'): string {
  const lines = [`# ${header}`, '# no topic lines before the first user: anonymous clients may do nothing', ''];
  for (const id of ids) lines.push(`user ${id.username}`, ...id.rules.map((r) => `topic ${r.access} ${r.topic}`), '');
  return lines.join('\n');
}

/** One password file line, as `mosquitto_passwd` writes it (`$7$`: PBKDF2-HMAC-SHA512). */
export function passwdLine(username: string, password: string, salt: Buffer = randomBytes(SALT_BYTES), iterations = PASSWD_ITERATIONS): string {
  if (/[:\n]/.test(username)) throw new UsageError(`a broker username may not contain ":" or a line break: "${username}"`);
  const hash = pbkdf2Sync(password, salt, iterations, HASH_BYTES, 'sha512');
  return `${username}:$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export const newPassword = (): string => randomBytes(PASSWORD_BYTES).toString('base64url');

/** The mosquitto.conf lines that turn the files on; `dir`: where they lie on the broker's host. */
export function mosquittoConf(dir: string): string {
  const d = dir.replace(/\/+$/, '');
  if (/\s/.test(d)) throw new UsageError(`mosquitto.conf cannot name a folder with white space: "${dir}" (--conf-dir)`);
  return [
    '# gmel deploy acl: authentication and per-device authorization (docs/security.md)',
    'allow_anonymous false',
    `password_file ${d}/passwd`,
    `acl_file ${d}/mosquitto.acl`,
    '# the client id is the username: nobody can take over another device\'s session or kick it off',
    'use_username_as_clientid true',
    '',
  ].join('\n');
}

export interface Credentials {
  readonly format: 'gmel-broker-credentials/1';
  readonly identities: Readonly<Record<string, { readonly password: string; readonly role: Role; readonly ieds?: string; readonly edgeServer?: number }>>;
}

export interface BrokerAuthFiles {
  readonly identities: readonly Identity[];
  /** file name → contents */
  readonly files: { readonly 'mosquitto.acl': string; readonly passwd: string; readonly 'credentials.json': string; readonly 'mosquitto.conf': string };
}

/**
 * All four files. `previous` (an earlier credentials.json) keeps the passwords of identities that
 * still exist, so adding an IED does not re-provision every device; `password` draws the new ones.
 */
export function brokerAuthFiles(p: AclPlant & { readonly confDir: string; readonly previous?: Credentials; readonly password?: (username: string) => string }): BrokerAuthFiles {
  const ids = plantIdentities(p);
  const draw = p.password ?? newPassword;
  const creds: Record<string, Credentials['identities'][string]> = {};
  for (const id of ids) {
    const password = p.previous?.identities[id.username]?.password ?? draw(id.username);
    creds[id.username] = { password, role: id.role, ...(id.ieds ? { ieds: gatewayStatusId({ first: id.ieds[0] as number, last: id.ieds[id.ieds.length - 1] as number }) } : {}), ...(id.edgeServer !== undefined ? { edgeServer: id.edgeServer } : {}) };
  }
  const credentials: Credentials = { format: 'gmel-broker-credentials/1', identities: creds };
  return {
    identities: ids,
    files: {
      'mosquitto.acl': renderAcl(ids),
      passwd: ids.map((id) => passwdLine(id.username, creds[id.username]?.password as string)).join('\n') + '\n',
      'credentials.json': `${JSON.stringify(credentials, null, 2)}\n`,
      'mosquitto.conf': mosquittoConf(p.confDir),
    },
  };
}

/** A credentials.json read back (for `previous`); refuses anything else. */
export function parseCredentials(text: string): Credentials {
  const c = JSON.parse(text) as Credentials;
  if (c?.format !== 'gmel-broker-credentials/1' || typeof c.identities !== 'object' || c.identities === null) throw new UsageError('not a gmel-broker-credentials/1 file');
  return c;
}

/** Writes the files into `dir`: credentials and hashes readable by their owner only. */
export function writeBrokerAuthFiles(dir: string, files: BrokerAuthFiles['files']): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(files).map(([name, text]) => {
    const path = join(dir, name);
    const mode = name === 'mosquitto.conf' ? 0o644 : 0o600;
    if (existsSync(path)) chmodSync(path, mode); // before the secret is written, not after
    writeFileSync(path, text, { mode });
    return path;
  });
}

/** The credentials.json already in `dir`, if any. */
export function previousCredentials(dir: string): Credentials | undefined {
  const path = join(dir, 'credentials.json');
  return existsSync(path) ? parseCredentials(readFileSync(path, 'utf8')) : undefined;
}
