/**
 * Loading a model set for the IEDs a gateway serves: every file checked against the manifest
 * (sha256, observation encoder version) and every graph against the plant (input and action widths).
 * `latest` picks the newest version folder of a model set.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../core/errors.ts';
import { loadVerifiedModel, readManifest } from '../core/model-set.ts';
import { observationSize } from '../core/observation.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import { listVersions } from '../trainer/export-set.ts';
import { createActorSession, type ActorSession, type Engine } from './policy.ts';
import type { ModelHandle } from './gateway.ts';

/** A model-set folder (newest version) or a version folder itself. */
export function resolveModelDir(path: string): string {
  if (existsSync(join(path, 'manifest.json'))) return path;
  const versions = listVersions(path);
  const latest = versions.at(-1);
  if (!latest) throw new InputError(`${path}: no model set here (no manifest.json, no version folders)`);
  return join(path, latest);
}

export async function loadModelHandle(path: string, scenario: Scenario, iedIds: readonly number[], engine: Engine): Promise<ModelHandle> {
  const dir = resolveModelDir(path);
  const manifest = readManifest(dir);
  const sessions = new Map<number, ActorSession>();
  const expected = { inputs: observationSize(scenario.edgeServers), actions: scenario.edgeServers + 1 };
  try {
    for (const i of iedIds) {
      // a plant larger than the trained one reuses actors cyclically (as the evaluation does)
      const bytes = loadVerifiedModel(dir, i % manifest.ieds, manifest);
      sessions.set(i, await createActorSession(bytes, engine, expected));
    }
  } catch (err) {
    await Promise.all([...sessions.values()].map((s) => s.release()));
    if (err instanceof InputError) throw new InputError(`model ${dir}: ${err.message.replace(`model set ${dir}: `, '')}`);
    throw err;
  }
  return { version: manifest.version, sessions };
}
