/**
 * A model set: one ONNX actor per IED plus a manifest, as shipped to gateways.
 *
 * | path                                 | content                                                   |
 * |--------------------------------------|-----------------------------------------------------------|
 * | models/NAME/<version>/ied-<i>.onnx   | IED i's actor (trainer/export-onnx.ts)                    |
 * | models/NAME/<version>/manifest.json  | ModelSetManifest below: sha256 of every file, scenario,  |
 * |                                      | obs-encoder version, action names, training provenance   |
 *
 * Shared by the exporter (writes), the gateway runtime and deployment (verify before loading).
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from './errors.ts';
import { OBS_ENCODER_VERSION, modelScales, type ObservationScales } from './observation.ts';
import type { Scenario } from './scenario/schema.ts';

export const MODEL_SET_FORMAT = 'gmel-model-set/1';

export interface ModelFileEntry {
  readonly sha256: string;
  readonly bytes: number;
  readonly ied: number;
  readonly inputSize: number;
  readonly actions: number;
  /** width of a recurrent actor's state h (absent or 0: feed-forward) */
  readonly hiddenSize?: number;
}

export interface ModelSetManifest {
  readonly format: typeof MODEL_SET_FORMAT;
  readonly name: string;
  readonly version: string;
  readonly algo: string;
  readonly obsEncoderVersion: string;
  /** the observation scales the actors were trained with: every consumer encodes with these (gmel-obs/2) */
  readonly obsScales: ObservationScales;
  readonly actionNames: readonly string[];
  readonly ieds: number;
  readonly scenario: Scenario;
  readonly scenarioHash: string;
  readonly onnx: { readonly opset: number; readonly irVersion: number };
  readonly files: Readonly<Record<string, ModelFileEntry>>;
  readonly training: {
    readonly run: string;
    readonly command: string | null;
    readonly seed: number;
    readonly commit: string;
    readonly episodes: number;
    readonly backend: string;
    /** means over the last 20 training episodes (exploration on) */
    readonly lastEpisodes: { readonly rewardPerTask: number; readonly completionRate: number };
  };
  readonly exportedBy: { readonly command: string | null; readonly commit: string };
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function modelFileName(ied: number): string {
  return `ied-${ied}.onnx`;
}

export function readManifest(dir: string): ModelSetManifest {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) throw new InputError(`model set ${dir}: no manifest.json`);
  let manifest: ModelSetManifest;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as ModelSetManifest;
  } catch (err) {
    throw new InputError(`model set ${dir}: manifest.json is not JSON (${(err as Error).message})`);
  }
  if (manifest.format !== MODEL_SET_FORMAT) throw new InputError(`model set ${dir}: format ${String(manifest.format)}, expected ${MODEL_SET_FORMAT}`);
  return manifest;
}

/**
 * Load IED i's model bytes after checking them against the manifest: the checksum, and that the
 * model encodes observations the way this build does. Throws InputError naming what is wrong.
 */
export function loadVerifiedModel(dir: string, ied: number, manifest: ModelSetManifest = readManifest(dir)): Uint8Array {
  if (manifest.obsEncoderVersion !== OBS_ENCODER_VERSION)
    throw new InputError(`model set ${dir}: built for observations ${manifest.obsEncoderVersion}, this runtime encodes ${OBS_ENCODER_VERSION}`);
  const file = modelFileName(ied);
  const entry = manifest.files[file];
  if (!entry) throw new InputError(`model set ${dir}: no model for IED ${ied}`);
  const path = join(dir, file);
  if (!existsSync(path)) throw new InputError(`model set ${dir}: ${file} is missing`);
  const bytes = readFileSync(path);
  const actual = sha256(bytes);
  if (actual !== entry.sha256) throw new InputError(`model set ${dir}: ${file} has sha256 ${actual.slice(0, 12)}…, the manifest says ${entry.sha256.slice(0, 12)}… (tampered or corrupt)`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The scales a model set's actors were trained with, checked against the plant it is to run in (its
 * number of edge servers): the one set of scales its consumers encode observations with.
 */
export function manifestScales(dir: string, manifest: ModelSetManifest, edgeServers: number): ObservationScales {
  if (manifest.obsEncoderVersion !== OBS_ENCODER_VERSION)
    throw new InputError(`model set ${dir}: built for observations ${manifest.obsEncoderVersion}, this runtime encodes ${OBS_ENCODER_VERSION}`);
  return modelScales(manifest.obsScales, edgeServers, `model set ${dir}`);
}

/** Every file of a model set, verified (e.g. before publishing or bundling it). */
export function verifyModelSet(dir: string): ModelSetManifest {
  const manifest = readManifest(dir);
  for (const entry of Object.values(manifest.files)) loadVerifiedModel(dir, entry.ied, manifest);
  return manifest;
}

/** Versions present in a model set folder, oldest first (version names sort by time: export-set.ts). */
export function listVersions(setDir: string): string[] {
  if (!existsSync(setDir)) return [];
  return readdirSync(setDir).filter((v) => existsSync(join(setDir, v, 'manifest.json'))).sort();
}

/** A model-set folder (its newest version) or a version folder itself. */
export function resolveModelDir(path: string): string {
  if (existsSync(join(path, 'manifest.json'))) return path;
  const latest = listVersions(path).at(-1);
  if (!latest) throw new InputError(`${path}: no model set here (no manifest.json, no version folders)`);
  return join(path, latest);
}
