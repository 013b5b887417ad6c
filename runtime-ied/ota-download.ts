/**
 * Bounded downloads for the over-the-air updater (ota.ts): nothing is read past a cap, and no refusal
 * quotes what the registry sent.
 *
 * | step             | bound                                                                       |
 * |------------------|-----------------------------------------------------------------------------|
 * | `fetchSigned`    | manifest.json ≤ MAX_MANIFEST_BYTES, manifest.sig and release.json ≤          |
 * |                  | MAX_SIGNATURE_BYTES, held in memory; the caller verifies them before any     |
 * |                  | model file is requested                                                     |
 * | `planFiles`      | from the verified manifest: ≤ MAX_MODEL_FILES entries, each needed file      |
 * |                  | declared 1…MAX_MODEL_FILE_BYTES with a sha256, all of them together ≤        |
 * |                  | MAX_OTA_DOWNLOAD_BYTES (the cap of the temporary folder)                     |
 * | `downloadFiles`  | each file streamed to disk and hashed on the way; a content-length over the  |
 * |                  | declared size is refused before reading, a body that runs past it is         |
 * |                  | cancelled at once; the size and the sha256 must match before it counts       |
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../core/errors.ts';
import { MODEL_RELEASE, MODEL_SIGNATURE } from '../core/model-signature.ts';
import { MODEL_SET_FORMAT, modelFileName, type ModelSetManifest } from '../core/model-set.ts';

/** Largest model file a gateway downloads, bytes (the registry's upload cap is the same). */
export const MAX_MODEL_FILE_BYTES = 64 * 1024 * 1024;
/** Most files a manifest may list. */
export const MAX_MODEL_FILES = 1024;
/** Largest download of one version (every file this gateway needs): the temporary folder's cap, bytes. */
export const MAX_OTA_DOWNLOAD_BYTES = 512 * 1024 * 1024;
/** Largest manifest.json, bytes. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;
/** Largest manifest.sig or release.json, bytes. */
export const MAX_SIGNATURE_BYTES = 16 * 1024;

/** Where one version's files come from. */
export interface Source {
  readonly get: typeof fetch;
  /** the registry's base URL, normalized (ota-policy.ts `registryBase`) */
  readonly base: string;
  readonly modelSet: string;
  readonly version: string;
  /** per-file timeout, ms */
  readonly timeoutMs: number;
}

/** The signed metadata of a version, unverified. */
export interface SignedMeta {
  readonly manifestBytes: Buffer;
  /** manifest.sig's text; undefined: the registry has none */
  readonly signature: string | undefined;
  /** release.json's bytes; undefined: the registry has none */
  readonly release: Buffer | undefined;
}

/** One file to download, as the verified manifest declares it. */
export interface PlannedFile {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
}

async function request(s: Source, file: string, optional: boolean): Promise<Response | undefined> {
  const res = await s.get(`${s.base}/models/${s.modelSet}/${s.version}/${file}`, { signal: AbortSignal.timeout(s.timeoutMs) });
  if (res.ok) return res;
  await res.body?.cancel().catch(() => {});
  if (optional && res.status === 404) return undefined;
  throw new InputError(`registry: ${file} of ${s.modelSet}/${s.version}: HTTP ${res.status}`);
}

/** The body, chunk by chunk, never past `limit` bytes: a larger content-length or body is refused and the stream cancelled. */
async function* bounded(res: Response, file: string, limit: number, what: string): AsyncGenerator<Uint8Array> {
  const announced = Number(res.headers.get('content-length') ?? Number.NaN);
  const tooMuch = () => new InputError(`${file}: more than ${what} ${limit} bytes`);
  const reader = res.body?.getReader();
  try {
    if (announced > limit) throw tooMuch();
    if (!reader) return;
    for (let total = 0; ; ) {
      const { done, value } = await reader.read();
      if (done) return;
      total += value.byteLength;
      if (total > limit) throw tooMuch();
      yield value;
    }
  } finally {
    await reader?.cancel().catch(() => {});
  }
}

async function small(s: Source, file: string, limit: number, optional: boolean): Promise<Buffer | undefined> {
  const res = await request(s, file, optional);
  if (!res) return undefined;
  const parts: Uint8Array[] = [];
  for await (const chunk of bounded(res, file, limit, 'the allowed')) parts.push(chunk);
  return Buffer.concat(parts);
}

/** manifest.json, manifest.sig and release.json of a version, small and in memory, for verification. */
export async function fetchSigned(s: Source): Promise<SignedMeta> {
  const manifestBytes = (await small(s, 'manifest.json', MAX_MANIFEST_BYTES, false)) as Buffer;
  const signature = (await small(s, MODEL_SIGNATURE, MAX_SIGNATURE_BYTES, true))?.toString('utf8');
  const release = await small(s, MODEL_RELEASE, MAX_SIGNATURE_BYTES, true);
  return { manifestBytes, signature, release };
}

/** The manifest's JSON (after its signature was verified); the error never quotes it. */
export function parseManifest(bytes: Buffer, label: string): ModelSetManifest {
  let manifest: ModelSetManifest;
  try {
    manifest = JSON.parse(bytes.toString('utf8')) as ModelSetManifest;
  } catch {
    throw new InputError(`model set ${label}: manifest.json is not JSON`);
  }
  if (manifest?.format !== MODEL_SET_FORMAT) throw new InputError(`model set ${label}: not a ${MODEL_SET_FORMAT} manifest`);
  return manifest;
}

/** The files these IEDs need, checked against the caps before anything is requested. */
export function planFiles(manifest: ModelSetManifest, iedIds: readonly number[], label: string): PlannedFile[] {
  const bad = (why: string) => new InputError(`model set ${label}: ${why}`);
  const { ieds, files } = manifest;
  if (!Number.isSafeInteger(ieds) || ieds < 1 || ieds > MAX_MODEL_FILES) throw bad(`the manifest says ${String(ieds).slice(0, 20)} IEDs (1 to ${MAX_MODEL_FILES})`);
  if (typeof files !== 'object' || files === null || Object.keys(files).length > MAX_MODEL_FILES) throw bad(`the manifest lists more than ${MAX_MODEL_FILES} files, or none`);
  const plan = [...new Set(iedIds.map((i) => modelFileName(i % ieds)))].map((file): PlannedFile => {
    const entry = files[file];
    if (!entry) throw bad(`no model for ${file}`);
    if (!Number.isSafeInteger(entry.bytes) || entry.bytes < 1 || entry.bytes > MAX_MODEL_FILE_BYTES) throw bad(`${file} declares ${String(entry.bytes).slice(0, 20)} bytes (at most ${MAX_MODEL_FILE_BYTES})`);
    if (typeof entry.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(entry.sha256)) throw bad(`${file} has no sha256`);
    return { file, bytes: entry.bytes, sha256: entry.sha256 };
  });
  const total = plan.reduce((n, f) => n + f.bytes, 0);
  if (total > MAX_OTA_DOWNLOAD_BYTES) throw bad(`${total} bytes to download (at most ${MAX_OTA_DOWNLOAD_BYTES})`);
  return plan;
}

/** Streams each planned file into dir, hashing on the way; a file counts only at its declared size and sha256. */
export async function downloadFiles(s: Source, plan: readonly PlannedFile[], dir: string): Promise<void> {
  for (const f of plan) {
    const res = (await request(s, f.file, false)) as Response;
    const hash = createHash('sha256');
    let bytes = 0;
    const out = await open(join(dir, f.file), 'wx', 0o600);
    try {
      for await (const chunk of bounded(res, f.file, f.bytes, 'the declared')) {
        hash.update(chunk);
        bytes += chunk.byteLength;
        await out.write(chunk);
      }
    } finally {
      await out.close();
    }
    if (bytes !== f.bytes) throw new InputError(`${f.file}: ${bytes} bytes, the manifest declares ${f.bytes}`);
    const actual = hash.digest('hex');
    if (actual !== f.sha256) throw new InputError(`${f.file} has sha256 ${actual.slice(0, 12)}…, the manifest says ${f.sha256.slice(0, 12)}… (tampered or corrupt)`);
  }
}
