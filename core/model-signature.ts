/**
 * Model-set signatures: `manifest.sig` beside a model set's manifest.json holds an Ed25519 signature
 * (base64) of the manifest's exact bytes. The manifest lists the sha256 of every model file, so a valid
 * signature plus matching checksums means the files are what the deploy key's owner published.
 * Shared by `gmel deploy sign-models` and the gateway's over-the-air updater.
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from './errors.ts';

export const MODEL_SIGNATURE = 'manifest.sig';

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

export function signModelSet(dir: string, privateKeyPem: string): void {
  writeFileSync(join(dir, MODEL_SIGNATURE), signatureOf(readFileSync(join(dir, 'manifest.json')), privateKeyPem));
}

/** Throws InputError unless dir/manifest.sig is a valid signature of dir/manifest.json under the key. */
export function verifyModelSetSignature(dir: string, publicKeyPem: string): void {
  const sigPath = join(dir, MODEL_SIGNATURE);
  if (!existsSync(sigPath)) throw new InputError(`model set ${dir}: unsigned (no ${MODEL_SIGNATURE})`);
  if (!signatureMatches(readFileSync(join(dir, 'manifest.json')), readFileSync(sigPath, 'utf8'), publicKeyPem)) throw new InputError(`model set ${dir}: the signature does not match the manifest (wrong key or tampered manifest)`);
}
