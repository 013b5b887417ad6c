/**
 * Loading a model set for the IEDs a gateway serves: every file checked against the manifest
 * (sha256, observation encoder version) and every graph against the plant (input and action widths).
 * A model-set folder loads its newest version (core/model-set.ts `resolveModelDir`).
 */
import { InputError } from '../core/errors.ts';
import { loadVerifiedModel, manifestScales, readManifest, resolveModelDir } from '../core/model-set.ts';
import { observationSize, type ObservationScales } from '../core/observation.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import { createActorSession, type ActorSession, type Engine } from './policy.ts';
import type { ModelHandle } from './gateway.ts';

export async function loadModelHandle(path: string, scenario: Scenario, iedIds: readonly number[], engine: Engine): Promise<ModelHandle> {
  const dir = resolveModelDir(path);
  const manifest = readManifest(dir);
  let scales: ObservationScales;
  const sessions = new Map<number, ActorSession>();
  const expected = { inputs: observationSize(scenario.edgeServers), actions: scenario.edgeServers + 1 };
  // a plant larger than the trained one reuses actors cyclically (as the evaluation does): IEDs that
  // share a model file share one session (a session holds no per-IED state)
  const byFile = new Map<number, ActorSession>();
  try {
    scales = manifestScales(dir, manifest, scenario.edgeServers); // the model's own, not the plant's
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
  return { version: manifest.version, sessions, scales };
}

/** Release every session of a model handle once (IEDs may share sessions). */
export async function releaseModel(handle: ModelHandle): Promise<void> {
  await Promise.all([...new Set(handle.sessions.values())].map((s) => s.release().catch(() => {})));
}
