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
  // a plant larger than the trained one reuses actors cyclically (as the evaluation does): IEDs that
  // share a model file share one session (a session holds no per-IED state)
  const byFile = new Map<number, ActorSession>();
  try {
    for (const i of iedIds) {
      const file = i % manifest.ieds;
      let session = byFile.get(file);
      if (!session) {
        session = await createActorSession(loadVerifiedModel(dir, file, manifest), engine, expected);
        byFile.set(file, session);
      }
      sessions.set(i, session);
    }
  } catch (err) {
    await Promise.all([...byFile.values()].map((s) => s.release()));
    if (err instanceof InputError) throw new InputError(`model ${dir}: ${err.message.replace(`model set ${dir}: `, '')}`);
    throw err;
  }
  return { version: manifest.version, sessions };
}

/** Release every session of a model handle once (IEDs may share sessions). */
export async function releaseModel(handle: ModelHandle): Promise<void> {
  await Promise.all([...new Set(handle.sessions.values())].map((s) => s.release().catch(() => {})));
}
