/**
 * Upgrades a model-set version written for observations gmel-obs/1 to gmel-obs/2 (core/observation.ts)
 * as a new version `<version>-obs2` beside it, and removes the old one:
 *
 *   npx tsx scripts/upgrade-model-set.ts models/gmel2024-amarl/amarl-e300-28870af05a
 *
 * gmel-obs/2 records the observation scales a model was trained with. Under gmel-obs/1 training encoded
 * with its own plant's scales, so a v1 set's scales are exactly `observationScales(manifest.scenario)`:
 * nothing is guessed. The actors' weights are untouched; each ONNX file's metadata gets the new encoder
 * version, the scales and the new version name, and the manifest its new checksums, `obsScales` and an
 * `upgraded` note. A new version name, because the bytes differ: a registry or a gateway's OTA cache that
 * holds the old version keeps it under its own name. For sets whose training run is gone (a run
 * re-exported with `gmel export` needs none of this).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import { OBS_ENCODER_VERSION, observationScales } from '../core/observation.ts';
import { readManifest, sha256, type ModelSetManifest } from '../core/model-set.ts';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: npx tsx scripts/upgrade-model-set.ts <model-set version folder>');
  process.exit(2);
}
const manifest = readManifest(dir) as ModelSetManifest & { obsEncoderVersion: string };
if (manifest.obsEncoderVersion !== 'gmel-obs/1') {
  console.error(`${dir}: encoder ${manifest.obsEncoderVersion}, only gmel-obs/1 sets are upgraded`);
  process.exit(2);
}
const obsScales = observationScales(manifest.scenario);
const version = `${manifest.version}-obs2`;
const out = join(dirname(dir.replace(/\/+$/, '')), version);
if (basename(dir.replace(/\/+$/, '')) !== manifest.version) {
  console.error(`${dir}: the folder is not named after its version ${manifest.version}`);
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const files: Record<string, ModelSetManifest['files'][string]> = {};
for (const [file, entry] of Object.entries(manifest.files)) {
  const model = onnxProto.onnx.ModelProto.decode(readFileSync(join(dir, file)));
  const replaced = new Set(['gmel.obs_encoder_version', 'gmel.obs_scales', 'gmel.policy_version']);
  const props = (model.metadataProps ?? []).filter((p) => !replaced.has(p.key ?? ''));
  model.metadataProps = [{ key: 'gmel.policy_version', value: version }, ...props, { key: 'gmel.obs_encoder_version', value: OBS_ENCODER_VERSION }, { key: 'gmel.obs_scales', value: JSON.stringify(obsScales) }];
  const bytes = onnxProto.onnx.ModelProto.encode(model).finish();
  writeFileSync(join(out, file), bytes);
  files[file] = { ...entry, sha256: sha256(bytes), bytes: bytes.length };
}
const upgraded: ModelSetManifest & { upgraded: unknown } = {
  ...manifest,
  version,
  obsEncoderVersion: OBS_ENCODER_VERSION,
  obsScales,
  files,
  upgraded: { from: manifest.version, fromEncoder: 'gmel-obs/1', by: 'scripts/upgrade-model-set.ts', note: 'obsScales = the training scenario\'s (what gmel-obs/1 training encoded with); weights unchanged' },
};
writeFileSync(join(out, 'manifest.json'), JSON.stringify(upgraded, null, 2) + '\n');
rmSync(dir, { recursive: true });
console.log(`${out}: ${dir} upgraded to ${OBS_ENCODER_VERSION}, ${Object.keys(files).length} actors, scales ${JSON.stringify(obsScales)}`);
