/**
 * Loading scenarios: a preset name or a file path → a validated, frozen Scenario.
 * Every error names the field (JSON pointer) and the source, so a wrong file is fixed in one look.
 */
import { readFileSync, existsSync } from 'node:fs';
import gmel2024 from './presets/gmel2024.json' with { type: 'json' };
import gmel2024Paper from './presets/gmel2024-paper.json' with { type: 'json' };
import tang2020 from './presets/tang2020.json' with { type: 'json' };
import type { ErrorObject } from 'ajv';
import { defineValidator } from '../validators.ts';
import { ScenarioSchema, type Scenario, type PerServer } from './schema.ts';
import { InputError } from '../errors.ts';

/** Presets are imported, not read from disk, so a bundled runtime carries them. */
const SCENARIO_PRESETS: Readonly<Record<string, unknown>> = { gmel2024, 'gmel2024-paper': gmel2024Paper, tang2020 };

export class ScenarioError extends InputError {
  override name = 'ScenarioError';
  constructor(
    readonly source: string,
    readonly field: string,
    detail: string,
  ) {
    super(`scenario ${source}: ${field || '(root)'}: ${detail}`);
  }
}

// every error, so that a file's report names the most specific one
const scenarioValidator = defineValidator<Scenario>('scenario', ScenarioSchema, { allErrors: true });

function describe(error: ErrorObject): { field: string; detail: string } {
  const field = error.instancePath || '/';
  if (error.keyword === 'additionalProperties') {
    const key = String((error.params as { additionalProperty: string }).additionalProperty);
    return { field: `${error.instancePath}/${key}`, detail: `unknown key "${key}"` };
  }
  if (error.keyword === 'required') {
    const key = String((error.params as { missingProperty: string }).missingProperty);
    return { field: `${error.instancePath}/${key}`, detail: 'is required' };
  }
  return { field, detail: error.message ?? error.keyword };
}

/** Schema errors, then the cross-field rules a schema cannot say. */
export function validateScenario(value: unknown, source = '<object>'): Scenario {
  const validateSchema = scenarioValidator();
  if (!validateSchema(value)) {
    const errors = validateSchema.errors ?? [];
    // A union (e.g. PerServer) reports one error per branch; the most specific path is the useful one.
    const deepest = [...errors].sort((a, b) => b.instancePath.length - a.instancePath.length)[0];
    const first = errors.find((e) => e.keyword !== 'anyOf' && e.instancePath === deepest?.instancePath) ?? deepest;
    if (!first) throw new ScenarioError(source, '', 'invalid');
    const { field, detail } = describe(first);
    const got = valueAt(value, first.instancePath);
    throw new ScenarioError(source, field, got === undefined ? detail : `${detail} (got ${JSON.stringify(got)})`);
  }
  const s = value;
  for (const key of ['sizeMbit', 'densityGcyclesPerMbit', 'deadlineSeconds'] as const) {
    const r = s.task[key];
    if (r.min > r.max) throw new ScenarioError(source, `/task/${key}`, `min ${r.min} > max ${r.max}`);
  }
  if (s.task.sizeMbit.max <= 0) throw new ScenarioError(source, '/task/sizeMbit/max', 'must be > 0');
  if (s.task.densityGcyclesPerMbit.max <= 0)
    throw new ScenarioError(source, '/task/densityGcyclesPerMbit/max', 'must be > 0');
  if (s.task.deadlineSeconds.min < s.slotSeconds)
    throw new ScenarioError(source, '/task/deadlineSeconds/min', `must be at least one slot (${s.slotSeconds} s)`);
  if (s.arrivals.process === 'bernoulli' && s.arrivals.probability > 1)
    throw new ScenarioError(source, '/arrivals/probability', `a Bernoulli probability must be ≤ 1 (got ${s.arrivals.probability})`);
  if (s.radio.spectrum === 'shared') {
    if (s.radio.bandwidthMHz === undefined) throw new ScenarioError(source, '/radio/bandwidthMHz', 'is required when radio.spectrum is "shared" (the system band B)');
    if (s.edge.bandwidthMHz !== undefined) throw new ScenarioError(source, '/edge/bandwidthMHz', 'must be absent when radio.spectrum is "shared" (the band is radio.bandwidthMHz; --set edge.bandwidthMHz=null removes it)');
  } else {
    if (s.edge.bandwidthMHz === undefined) throw new ScenarioError(source, '/edge/bandwidthMHz', 'is required (each edge server\'s band) unless radio.spectrum is "shared"');
    if (s.radio.bandwidthMHz !== undefined) throw new ScenarioError(source, '/radio/bandwidthMHz', 'is only for radio.spectrum "shared" (per-server bands are edge.bandwidthMHz; --set radio.bandwidthMHz=null removes it)');
  }
  for (const key of ['gpuGHz', 'bandwidthMHz'] as const) {
    const v = s.edge[key];
    if (Array.isArray(v) && v.length !== s.edgeServers)
      throw new ScenarioError(source, `/edge/${key}`, `has ${v.length} values for ${s.edgeServers} edge servers`);
  }
  if (s.radio.model === 'fixed' && s.radio.fixedRateMbps === undefined)
    throw new ScenarioError(source, '/radio/fixedRateMbps', 'is required when radio.model is "fixed"');
  return deepFreeze(structuredClone(s));
}

function valueAt(root: unknown, pointer: string): unknown {
  let node: unknown = root;
  for (const part of pointer.split('/').slice(1)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export function presetNames(): string[] {
  return Object.keys(SCENARIO_PRESETS).sort();
}

function parseJsonFile(path: string, source: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ScenarioError(source, '', `cannot read file: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ScenarioError(source, '', `malformed JSON: ${(err as Error).message}`);
  }
}

/** A preset name (see presetNames()) or a path to a scenario JSON file. */
export function loadScenario(nameOrPath: string, overrides: Readonly<Record<string, unknown>> = {}): Scenario {
  const preset = Object.hasOwn(SCENARIO_PRESETS, nameOrPath) ? SCENARIO_PRESETS[nameOrPath] : undefined;
  if (preset === undefined && !existsSync(nameOrPath)) {
    throw new ScenarioError(nameOrPath, '', `no such preset (${presetNames().join(', ')}) or file`);
  }
  const raw = preset !== undefined ? structuredClone(preset) : parseJsonFile(nameOrPath, nameOrPath);
  return validateScenario(applyOverrides(raw, overrides), nameOrPath);
}

/**
 * Set dotted paths ("arrivals.probability") on a copy; values are JSON or plain strings. `null`
 * removes the field, so an override can switch between alternatives that exclude each other (a
 * per-server file to one shared band: radio.spectrum=shared radio.bandwidthMHz=20 edge.bandwidthMHz=null).
 */
export function applyOverrides(raw: unknown, overrides: Readonly<Record<string, unknown>>): unknown {
  if (Object.keys(overrides).length === 0) return raw;
  const copy = structuredClone(raw) as Record<string, unknown>;
  for (const [path, value] of Object.entries(overrides)) {
    const parts = path.split('.');
    let node: Record<string, unknown> = copy;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (next === null || typeof next !== 'object') {
        throw new ScenarioError('--set', `/${parts.join('/')}`, `"${part}" is not an object in this scenario`);
      }
      node = next as Record<string, unknown>;
    }
    const key = parts[parts.length - 1] as string;
    if (value === null) delete node[key];
    else node[key] = value;
  }
  return copy;
}

/** "0.7" → 0.7, '{"min":1}' → object, "tang2020" → string. */
export function parseOverrideValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Resolve a per-server field to one value per edge server ({min,max}: linearly spaced). */
export function perServer(value: PerServer, servers: number): Float64Array {
  const out = new Float64Array(servers);
  if (typeof value === 'number') out.fill(value);
  else if (Array.isArray(value)) out.set(value);
  else
    for (let m = 0; m < servers; m++)
      out[m] = servers === 1 ? value.min : value.min + ((value.max - value.min) * m) / (servers - 1);
  return out;
}

/** A stable fingerprint (sorted-key JSON) for manifests and run configs. */
export function canonicalScenarioJson(s: Scenario): string {
  return JSON.stringify(s, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}
