/**
 * Signing and verifying gateway bundles with Ed25519 (node:crypto): the bundle manifest lists the
 * sha256 of every file; its signature covers the manifest's exact bytes. A gateway refuses a bundle
 * whose signature, any checksum, or its file list does not match.
 */
import { generateKeyPairSync, createPublicKey, createPrivateKey, createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { InputError } from '../core/errors.ts';
import { sha256 } from '../core/model-set.ts';
import { signatureOf, signatureMatches } from '../core/model-signature.ts';

export const BUNDLE_MANIFEST = 'bundle-manifest.json';
export const BUNDLE_SIGNATURE = 'bundle-manifest.sig';
/**
 * The same checksums in coreutils' `sha256sum` format, and their Ed25519 signature: what install.sh
 * checks with the host's own openssl and sha256sum, so no code from the bundle judges the bundle.
 */
export const BUNDLE_SUMS = 'SHA256SUMS';
export const BUNDLE_SUMS_SIGNATURE = 'SHA256SUMS.sig';

export interface BundleManifest {
  readonly format: 'gmel-bundle/1';
  readonly ied: number | 'all';
  readonly modelVersion: string;
  readonly createdAt: string;
  /** sha256 fingerprint of the signing public key */
  readonly keyId: string;
  /** every file of the bundle but the manifest and its signature: relative path → sha256 */
  readonly files: Readonly<Record<string, string>>;
}

export function keyId(publicKeyPem: string): string {
  return createHash('sha256').update(createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** `gmel deploy keygen`: an Ed25519 key pair as PEM files (the private one readable by its owner only). */
export function generateKeys(dir: string, name = 'gmel-deploy'): { privateKey: string; publicKey: string } {
  mkdirSync(dir, { recursive: true });
  const privateKey = join(dir, `${name}.key`);
  const publicKey = join(dir, `${name}.pub`);
  if (existsSync(privateKey)) throw new InputError(`${privateKey} exists: refusing to overwrite a signing key`);
  const pair = generateKeyPairSync('ed25519');
  writeFileSync(privateKey, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  chmodSync(privateKey, 0o600);
  writeFileSync(publicKey, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  return { privateKey, publicKey };
}

function walk(dir: string, root = dir): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? walk(path, root) : [relative(root, path)];
  });
}

export function sha256File(path: string): string {
  return sha256(readFileSync(path));
}

/** Write the manifest of every file now in `dir`, and its signature. */
export function signBundle(dir: string, privateKeyPem: string, meta: { ied: number | 'all'; modelVersion: string }): BundleManifest {
  const key = createPrivateKey(privateKeyPem);
  const summed = walk(dir).filter((f) => ![BUNDLE_MANIFEST, BUNDLE_SIGNATURE, BUNDLE_SUMS, BUNDLE_SUMS_SIGNATURE].includes(f)).sort();
  const sums = Buffer.from(summed.map((f) => `${sha256File(join(dir, f))}  ${f}\n`).join(''));
  writeFileSync(join(dir, BUNDLE_SUMS), sums);
  // raw bytes, not base64: `openssl pkeyutl -verify -rawin -sigfile` reads the 64-byte signature as is
  writeFileSync(join(dir, BUNDLE_SUMS_SIGNATURE), Buffer.from(signatureOf(sums, privateKeyPem).trim(), 'base64'));
  const files = Object.fromEntries(walk(dir).filter((f) => f !== BUNDLE_MANIFEST && f !== BUNDLE_SIGNATURE).sort().map((f) => [f, sha256File(join(dir, f))]));
  const manifest: BundleManifest = { format: 'gmel-bundle/1', ied: meta.ied, modelVersion: meta.modelVersion, createdAt: new Date().toISOString(), keyId: keyId(createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString()), files };
  const bytes = Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
  writeFileSync(join(dir, BUNDLE_MANIFEST), bytes);
  writeFileSync(join(dir, BUNDLE_SIGNATURE), signatureOf(bytes, privateKeyPem));
  return manifest;
}

/** Verify a bundle folder against a trusted public key; throws InputError naming the first problem. */
export function verifyBundle(dir: string, publicKeyPem: string): BundleManifest {
  const manifestPath = join(dir, BUNDLE_MANIFEST);
  const sigPath = join(dir, BUNDLE_SIGNATURE);
  if (!existsSync(manifestPath) || !existsSync(sigPath)) throw new InputError(`bundle ${dir}: no ${BUNDLE_MANIFEST} or ${BUNDLE_SIGNATURE}`);
  const bytes = readFileSync(manifestPath);
  const ok = signatureMatches(bytes, readFileSync(sigPath, 'utf8'), publicKeyPem);
  if (!ok) throw new InputError(`bundle ${dir}: the signature does not match the manifest under key ${keyId(publicKeyPem)} (wrong key or tampered manifest)`);
  const manifest = JSON.parse(bytes.toString('utf8')) as BundleManifest;
  const present = new Set(walk(dir).filter((f) => f !== BUNDLE_MANIFEST && f !== BUNDLE_SIGNATURE));
  for (const [file, sum] of Object.entries(manifest.files)) {
    if (!present.has(file)) throw new InputError(`bundle ${dir}: ${file} is missing`);
    if (sha256File(join(dir, file)) !== sum) throw new InputError(`bundle ${dir}: ${file} does not match its sha256 (tampered or corrupt)`);
    present.delete(file);
  }
  const extra = [...present];
  if (extra.length > 0) throw new InputError(`bundle ${dir}: files not in the signed manifest: ${extra.slice(0, 5).join(', ')}`);
  return manifest;
}
