/**
 * `gmel export`: a training run's exported actors → an ONNX model set (core/model-set.ts).
 * The version is derived from the content (algorithm, episodes, hash of all models), so exporting the
 * same run twice gives the same version and identical files.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, basename, resolve } from 'node:path';
import { execSync } from 'node:child_process';
import { InputError } from '../core/errors.ts';
import { OBS_ENCODER_VERSION, modelScales, type ObservationScales } from '../core/observation.ts';
import { MODEL_SET_FORMAT, modelFileName, sha256, type ModelFileEntry, type ModelSetManifest } from '../core/model-set.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import { readActor } from './actor-file.ts';
import { actorShape } from './actor-net.ts';
import { actorToOnnx, ONNX_IR_VERSION, ONNX_OPSET } from './export-onnx.ts';
import type { EpisodeLine } from './train.ts';

export interface ExportOptions {
  readonly runDir: string;
  /** model set folder, e.g. models/NAME; the version folder goes inside */
  readonly outDir: string;
  readonly version?: string;
  readonly command?: string;
}

interface RunConfig {
  algo: string;
  seed: number;
  scenario: Scenario;
  scenarioHash: string;
  command: string | null;
  commit: string;
  backend: { provider: string };
  obsEncoderVersion: string;
  obsScales?: ObservationScales;
}

function commit(): string {
  try {
    return execSync('git rev-parse HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}

export function exportRun(opts: ExportOptions): { dir: string; manifest: ModelSetManifest } {
  const configPath = join(opts.runDir, 'config.json');
  if (!existsSync(configPath)) throw new InputError(`${opts.runDir}: not a training run (no config.json)`);
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as RunConfig;
  if (config.obsEncoderVersion !== OBS_ENCODER_VERSION)
    throw new InputError(`${opts.runDir}: trained on observations ${config.obsEncoderVersion}, this build encodes ${OBS_ENCODER_VERSION}`);
  const obsScales = modelScales(config.obsScales, config.scenario.edgeServers, opts.runDir);
  const actorsDir = join(opts.runDir, 'actors');
  if (!existsSync(actorsDir)) throw new InputError(`${opts.runDir}: no actors/ folder (has the run reached a checkpoint?)`);
  const ieds = config.scenario.ieds;
  const lines = readFileSync(join(opts.runDir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as EpisodeLine);
  const actors = Array.from({ length: ieds }, (_, i) => readActor(join(actorsDir, `ied-${i}`)));
  const episode = actors[0]?.metadata.episode ?? lines.length;
  const provisional = actors.map((a, i) => actorToOnnx(a.net, { policyVersion: 'pending', obsEncoderVersion: OBS_ENCODER_VERSION, ied: i, algo: config.algo, actionNames: a.metadata.actionNames, obsScales }));
  const contentHash = sha256(Buffer.concat(provisional.map((b) => Buffer.from(b)))).slice(0, 10);
  const version = opts.version ?? `${config.algo}-e${episode}-${contentHash}`;
  if (!/^[\w.-]+$/.test(version)) throw new InputError(`--version "${version}": use letters, digits, dot, dash, underscore`);
  const dir = join(opts.outDir, version);
  mkdirSync(dir, { recursive: true });
  const files: Record<string, ModelFileEntry> = {};
  actors.forEach((a, i) => {
    const bytes = actorToOnnx(a.net, { policyVersion: version, obsEncoderVersion: OBS_ENCODER_VERSION, ied: i, algo: config.algo, actionNames: a.metadata.actionNames, obsScales });
    const file = modelFileName(i);
    writeFileSync(join(dir, file), bytes);
    const shape = actorShape(a.net);
    files[file] = { sha256: sha256(bytes), bytes: bytes.length, ied: i, inputSize: shape.inputs, actions: shape.actions, ...(shape.hiddenSize > 0 ? { hiddenSize: shape.hiddenSize } : {}) };
  });
  const last = lines.slice(-20);
  const mean = (f: (l: EpisodeLine) => number) => (last.length ? last.reduce((s, l) => s + f(l), 0) / last.length : 0);
  const manifest: ModelSetManifest = {
    format: MODEL_SET_FORMAT,
    name: basename(resolve(opts.outDir)),
    version,
    algo: config.algo,
    obsEncoderVersion: OBS_ENCODER_VERSION,
    obsScales,
    actionNames: actors[0]?.metadata.actionNames ?? [],
    ieds,
    scenario: config.scenario,
    scenarioHash: config.scenarioHash,
    onnx: { opset: ONNX_OPSET, irVersion: ONNX_IR_VERSION },
    files,
    training: {
      run: opts.runDir, command: config.command, seed: config.seed, commit: config.commit, episodes: lines.length,
      backend: config.backend.provider, lastEpisodes: { rewardPerTask: mean((l) => l.rewardPerTask), completionRate: mean((l) => l.completionRate) },
    },
    exportedBy: { command: opts.command ?? null, commit: commit() },
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return { dir, manifest };
}
