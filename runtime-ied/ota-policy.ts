/**
 * What the over-the-air updater (ota.ts) accepts, decided before and between downloads.
 *
 * | rule                         | refuses                                                              |
 * |------------------------------|----------------------------------------------------------------------|
 * | clock skew                   | a desire whose `at` is more than MAX_DESIRE_CLOCK_SKEW_MS ahead of   |
 * |                              | the gateway's clock: it would win the newest-wish rule forever       |
 * | pinned registry              | a desire naming a registry other than the one the gateway's operator |
 * |                              | configured (`registryBase` compares normalized base URLs); with none |
 * |                              | configured, any http(s) URL without credentials, query or fragment   |
 * | stale wish                   | a desire older (`at`) than the one behind the installed version      |
 * |                              | (old retained messages after a restart)                              |
 * | anti-rollback                | a set whose signed release sequence is below the installed one's,    |
 * |                              | unless the desire carries a rollback instruction signed by the deploy|
 * |                              | key, or (option `unsignedRollbackWindowMs`) it is the version run    |
 * |                              | just before the installed one and the install is that recent         |
 *
 * The installed version, its sequence and its wish's `at` persist in `<workDir>/ota-state.json`.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../core/errors.ts';
import { MAX_CLOCK_SKEW_MS } from '../protocol/refusals.ts';
import { rollbackStatement, signatureMatches } from '../core/model-signature.ts';
import type { DesiredModel } from '../protocol/messages.ts';

/** How far ahead of the gateway's clock a desired-model `at` may be, ms: the plant's one clock-skew bound. */
export const MAX_DESIRE_CLOCK_SKEW_MS = MAX_CLOCK_SKEW_MS;
export const OTA_STATE_FILE = 'ota-state.json';

/** What the updater last installed over the air (persisted across restarts). */
export interface Installed {
  readonly version: string;
  /** its signed release sequence (0: a set signed without a release statement) */
  readonly sequence: number;
  /** the `at` of the desire that installed it */
  readonly at: number;
  /** gateway clock when it was swapped in, ms */
  readonly installedAt: number;
  /** the version the gateway ran just before */
  readonly previous?: string;
}

/** The refusal reason for a desire stamped too far ahead of `now`, if it is. */
export function skewRefusal(d: DesiredModel, now: number): string | undefined {
  if (d.at <= now + MAX_DESIRE_CLOCK_SKEW_MS) return undefined;
  return `desired at ${d.at}, ${d.at - now} ms ahead of this gateway's clock (at most ${MAX_DESIRE_CLOCK_SKEW_MS} ms of skew allowed)`;
}

/** http(s) base URL without credentials, query, fragment or trailing slash; InputError otherwise (never quoting it). */
export function registryBase(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InputError('the registry is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InputError('the registry must be an http(s) URL');
  if (url.username || url.password) throw new InputError('the registry URL may not carry credentials');
  if (raw.includes('?') || raw.includes('#')) throw new InputError('the registry URL may not carry a query or fragment');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** The base URL to download from: the pinned registry, which the desire must name; without a pin, the desire's own. */
export function registryFor(pinned: string | undefined, desired: string): string {
  if (pinned === undefined) return registryBase(desired);
  const base = registryBase(pinned);
  let named: string | undefined;
  try {
    named = registryBase(desired);
  } catch {
    named = undefined;
  }
  if (named !== base) throw new InputError(`the desired registry is not the registry this gateway follows (${base})`);
  return base;
}

export function readInstalled(workDir: string): Installed | undefined {
  const path = join(workDir, OTA_STATE_FILE);
  if (!existsSync(path)) return undefined;
  const s = JSON.parse(readFileSync(path, 'utf8')) as Installed;
  if (typeof s.version !== 'string' || !Number.isSafeInteger(s.sequence) || typeof s.at !== 'number' || typeof s.installedAt !== 'number') throw new InputError(`${path}: not an over-the-air state`);
  return s;
}

export function writeInstalled(workDir: string, s: Installed): void {
  mkdirSync(workDir, { recursive: true });
  const path = join(workDir, OTA_STATE_FILE);
  writeFileSync(`${path}.tmp`, JSON.stringify(s) + '\n');
  renameSync(`${path}.tmp`, path);
}

/** Why moving to `version` at `sequence` is a refused rollback, if it is. */
export function rollbackRefusal(o: { installed: Installed | undefined; sequence: number; d: DesiredModel; publicKeyPem: string; now: number; unsignedRollbackWindowMs: number }): string | undefined {
  const { installed, sequence, d } = o;
  if (!installed || sequence >= installed.sequence) return undefined;
  if (d.rollbackSignature !== undefined)
    return signatureMatches(rollbackStatement(d), d.rollbackSignature, o.publicKeyPem) ? undefined : `rollback instruction for ${d.version}: the signature does not match (wrong key or altered message)`;
  if (o.unsignedRollbackWindowMs > 0 && installed.previous === d.version && o.now - installed.installedAt <= o.unsignedRollbackWindowMs) return undefined;
  return `rollback refused: ${d.version} has sequence ${sequence}, below ${installed.version}'s ${installed.sequence} (a signed rollback instruction is needed)`;
}
