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

export function signModelSet(dir: string, privateKeyPem: string): void {
  const bytes = readFileSync(join(dir, 'manifest.json'));
  writeFileSync(join(dir, MODEL_SIGNATURE), sign(null, bytes, createPrivateKey(privateKeyPem)).toString('base64') + '\n');
}

/** Throws InputError unless dir/manifest.sig is a valid signature of dir/manifest.json under the key. */
export function verifyModelSetSignature(dir: string, publicKeyPem: string): void {
  const sigPath = join(dir, MODEL_SIGNATURE);
  if (!existsSync(sigPath)) throw new InputError(`model set ${dir}: unsigned (no ${MODEL_SIGNATURE})`);
  let ok = false;
  try {
    ok = verify(null, readFileSync(join(dir, 'manifest.json')), createPublicKey(publicKeyPem), Buffer.from(readFileSync(sigPath, 'utf8').trim(), 'base64'));
  } catch {
    ok = false;
  }
  if (!ok) throw new InputError(`model set ${dir}: the signature does not match the manifest (wrong key or tampered manifest)`);
}
