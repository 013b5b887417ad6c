/**
 * The registry's store on disk: every path confined to it, its size, and the manifest checks that keep
 * a published manifest from naming anything outside its version folder.
 *
 * | check                  | refuses                                                                     |
 * |------------------------|-----------------------------------------------------------------------------|
 * | `confinedPath`         | a path that resolves outside the store (`..`, absolute), or through a       |
 * |                        | symlink whose target lies outside it                                         |
 * | `checkManifestPaths`   | a `files` key that is not `ied-<i>.onnx` for its own integer `ied`, a file  |
 * |                        | declared larger than one upload, more than MAX_MANIFEST_FILES entries, and  |
 * |                        | a listed file that is not a regular file of the staging folder               |
 * | `storeBytes`           | (the caller compares it with the store cap, `MAX_STORE_BYTES` by default)   |
 */
import { existsSync, lstatSync, readdirSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { InputError } from '../core/errors.ts';
import { modelFileName, type ModelSetManifest } from '../core/model-set.ts';

/** Largest single upload (the fastify bodyLimit), bytes: one ONNX actor or a manifest. */
export const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;
/** Largest store (published versions plus staged uploads), bytes. */
export const MAX_STORE_BYTES = 4 * 1024 * 1024 * 1024;
/** Most files one manifest may list. */
export const MAX_MANIFEST_FILES = 1024;

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * `parts` joined under the store, or an InputError when the result would leave it: lexically (`..`,
 * absolute parts) or, for a path that exists, through a symlink (its real path must stay in the store).
 */
export function confinedPath(store: string, ...parts: string[]): string {
  const root = resolve(store);
  const path = resolve(root, ...parts);
  if (parts.some((p) => isAbsolute(p)) || !inside(root, path)) throw new InputError(`${parts.join('/')}: outside the store`);
  if (existsSync(path) && !inside(realpathSync(root), realpathSync(path))) throw new InputError(`${parts.join('/')}: links outside the store`);
  return path;
}

/** Bytes of every regular file under dir (symlinks are not followed, nor counted). */
export function storeBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += storeBytes(path);
    else if (entry.isFile()) total += lstatSync(path).size;
  }
  return total;
}

/** Size of one file if it is a regular file (not a symlink), else 0. */
export function fileBytes(path: string): number {
  if (!existsSync(path)) return 0;
  const s = lstatSync(path);
  return s.isFile() ? s.size : 0;
}

/**
 * Every file a manifest lists is `ied-<i>.onnx` for its own non-negative integer `ied`, declared no
 * larger than one upload, and a regular file inside `staging`. Throws InputError (the registry answers
 * 400) naming the entry — never anything read from outside the store.
 */
export function checkManifestPaths(manifest: ModelSetManifest, staging: string, maxFileBytes: number): void {
  const files = manifest.files;
  if (typeof files !== 'object' || files === null || Array.isArray(files)) throw new InputError('manifest: files must be an object');
  const names = Object.keys(files);
  if (names.length === 0 || names.length > MAX_MANIFEST_FILES) throw new InputError(`manifest: ${names.length} files (1 to ${MAX_MANIFEST_FILES} allowed)`);
  for (const name of names) {
    const entry = files[name];
    const ied = entry?.ied;
    if (typeof ied !== 'number' || !Number.isSafeInteger(ied) || ied < 0 || name !== modelFileName(ied))
      throw new InputError(`manifest: the entry "${name.slice(0, 64)}" is not ied-<i>.onnx for its own integer ied`);
    if (!Number.isSafeInteger(entry?.bytes) || (entry?.bytes ?? 0) <= 0 || (entry?.bytes ?? 0) > maxFileBytes)
      throw new InputError(`manifest: ${name} declares ${String(entry?.bytes)} bytes (1 to ${maxFileBytes} allowed)`);
    const path = confinedPath(staging, name);
    if (existsSync(path) && !lstatSync(path).isFile()) throw new InputError(`manifest: ${name} is not a regular file`);
  }
}
