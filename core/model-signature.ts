/**
 * Model-set signatures, made by the deploy key's owner and checked by the gateway's over-the-air
 * updater (runtime-ied/ota.ts) before it downloads a single model file.
 *
 * | file / message field            | content                                                              |
 * |---------------------------------|----------------------------------------------------------------------|
 * | `manifest.sig`                  | Ed25519 signature (base64) of manifest.json's exact bytes; the       |
 * |                                 | manifest lists the sha256 and size of every model file               |
 * | `release.json`                  | the signed release statement: `{ statement, signature }`, statement  |
 * |                                 | the exact JSON text `{ format, version, sequence, manifestSha256 }`  |
 * |                                 | (a detached statement: the trainer's manifest format is unchanged).  |
 * |                                 | `sequence` orders releases (anti-rollback); by default the signing   |
 * |                                 | time in ms, so sets signed later rank higher                         |
 * | desiredModel `rollbackSignature`| a rollback instruction: Ed25519 signature of                          |
 * |                                 | `gmel-rollback/1\n<modelSet>\n<version>\n<at>` (`rollbackStatement`) |
 *
 * Shared by `gmel deploy sign-models`, the twin's retrainer and the gateway's over-the-air updater.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from './errors.ts';

export const MODEL_SIGNATURE = 'manifest.sig';
export const MODEL_RELEASE = 'release.json';
export const RELEASE_FORMAT = 'gmel-release/1';

/** What release.json's signature covers: which manifest, under which version, at which rank. */
export interface ModelRelease {
  readonly format: typeof RELEASE_FORMAT;
  readonly version: string;
  /** monotonic release counter (a non-negative safe integer): a gateway never moves to a lower one unasked */
  readonly sequence: number;
  /** sha256 (hex) of manifest.json's exact bytes */
  readonly manifestSha256: string;
}

/** Ed25519 signature of `bytes`, base64 with a trailing newline (the .sig file format). */
export function signatureOf(bytes: Uint8Array, privateKeyPem: string): string {
  return sign(null, bytes, createPrivateKey(privateKeyPem)).toString('base64') + '\n';
}

/** Whether `signatureBase64` is a valid Ed25519 signature of `bytes` under the key (never throws). */
export function signatureMatches(bytes: Uint8Array, signatureBase64: string, publicKeyPem: string): boolean {
  try {
    return verify(null, bytes, createPublicKey(publicKeyPem), Buffer.from(signatureBase64.trim(), 'base64'));
  } catch {
    return false;
  }
}

const hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** manifest.sig, and release.json at `sequence` (default: now, in ms), for the model set in dir. */
export function signModelSet(dir: string, privateKeyPem: string, o: { sequence?: number } = {}): void {
  const manifestBytes = readFileSync(join(dir, 'manifest.json'));
  const sequence = o.sequence ?? Date.now();
  if (!Number.isSafeInteger(sequence) || sequence < 0) throw new InputError(`release sequence ${sequence}: a non-negative integer is needed`);
  const version = (JSON.parse(manifestBytes.toString('utf8')) as { version?: unknown }).version;
  if (typeof version !== 'string') throw new InputError(`model set ${dir}: the manifest has no version`);
  const release: ModelRelease = { format: RELEASE_FORMAT, version, sequence, manifestSha256: hex(manifestBytes) };
  const statement = JSON.stringify(release);
  writeFileSync(join(dir, MODEL_SIGNATURE), signatureOf(manifestBytes, privateKeyPem));
  writeFileSync(join(dir, MODEL_RELEASE), JSON.stringify({ statement, signature: signatureOf(Buffer.from(statement), privateKeyPem).trim() }) + '\n');
}

/** Throws InputError unless `signature` (manifest.sig's text; undefined: absent) signs the manifest bytes. */
export function checkManifestSignature(manifestBytes: Uint8Array, signature: string | undefined, publicKeyPem: string, label: string): void {
  if (signature === undefined) throw new InputError(`model set ${label}: unsigned (no ${MODEL_SIGNATURE})`);
  if (!signatureMatches(manifestBytes, signature, publicKeyPem)) throw new InputError(`model set ${label}: the signature does not match the manifest (wrong key or tampered manifest)`);
}

/** Throws InputError unless dir/manifest.sig is a valid signature of dir/manifest.json under the key. */
export function verifyModelSetSignature(dir: string, publicKeyPem: string): void {
  const sigPath = join(dir, MODEL_SIGNATURE);
  checkManifestSignature(readFileSync(join(dir, 'manifest.json')), existsSync(sigPath) ? readFileSync(sigPath, 'utf8') : undefined, publicKeyPem, dir);
}

/**
 * The release statement of a manifest, verified: signed by the key, about these exact manifest bytes and
 * this version. `undefined` when there is none (a set signed before releases existed: it ranks lowest,
 * sequence 0). Throws InputError on anything else; the message never quotes the file.
 */
export function verifyRelease(releaseBytes: Uint8Array | undefined, manifestBytes: Uint8Array, version: string, publicKeyPem: string, label: string): ModelRelease | undefined {
  if (releaseBytes === undefined) return undefined;
  const bad = (why: string) => new InputError(`model set ${label}: ${MODEL_RELEASE} ${why}`);
  let file: { statement?: unknown; signature?: unknown };
  try {
    file = JSON.parse(Buffer.from(releaseBytes).toString('utf8')) as typeof file;
  } catch {
    throw bad('is not JSON');
  }
  if (typeof file?.statement !== 'string' || typeof file.signature !== 'string') throw bad('is not { statement, signature }');
  if (!signatureMatches(Buffer.from(file.statement), file.signature, publicKeyPem)) throw bad('is not signed by the trusted key');
  let release: Partial<ModelRelease>;
  try {
    release = JSON.parse(file.statement) as Partial<ModelRelease>;
  } catch {
    throw bad('has a statement that is not JSON');
  }
  if (release.format !== RELEASE_FORMAT) throw bad(`has format ${String(release.format).slice(0, 32)}, expected ${RELEASE_FORMAT}`);
  if (release.manifestSha256 !== hex(manifestBytes)) throw bad('is about another manifest');
  if (release.version !== version) throw bad('names another version');
  if (!Number.isSafeInteger(release.sequence) || (release.sequence ?? -1) < 0) throw bad('has no valid sequence');
  return release as ModelRelease;
}

/** The bytes a rollback instruction signs: this set, this version, this desired-model message's `at`. */
export function rollbackStatement(d: { modelSet: string; version: string; at: number }): Buffer {
  return Buffer.from(`gmel-rollback/1\n${d.modelSet}\n${d.version}\n${d.at}`);
}

/** A desired-model message's `rollbackSignature`: the deploy key allows going back to `version` at `at`. */
export function signRollback(d: { modelSet: string; version: string; at: number }, privateKeyPem: string): string {
  return signatureOf(rollbackStatement(d), privateKeyPem).trim();
}
