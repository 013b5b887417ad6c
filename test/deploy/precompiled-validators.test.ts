// The gateway bundle's precompiled validators (ajv standalone code, deploy/build-gateway.ts) accept and
// refuse exactly what the validators compiled at run time do, with the same errors, for every
// validator recorded in core/validators.ts (every message kind and the scenario).
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { analyzeGateway, precompiledValidatorsSource } from '../../deploy/build-gateway.ts';
import { defineValidator, definedValidators, errorsText } from '../../core/validators.ts';
import { loadScenario, presetNames } from '../../core/scenario/load.ts';
import { SCHEMAS } from '../../protocol/messages.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const AT = 1_700_000_000_000;

async function loadPrecompiled(): Promise<Record<string, ValidateFunction>> {
  const dir = mkdtempSync(join(tmpdir(), 'gmel-validators-'));
  const file = join(dir, 'precompiled.mjs');
  // outside the bundle, the chunks' require() of ajv's runtime helpers resolves from the project
  writeFileSync(file, `import { createRequire } from 'node:module';\nconst require = createRequire(${JSON.stringify(join(ROOT, 'package.json'))});\n${precompiledValidatorsSource()}`);
  try {
    return ((await import(pathToFileURL(file).href)) as { PRECOMPILED: Record<string, ValidateFunction> }).PRECOMPILED;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `value` and its one-change mutants: each field removed, retyped, negated, nulled; an extra key beside it. */
function mutants(value: unknown): unknown[] {
  const out: unknown[] = [value, null, 'x', 7, [], {}];
  const walk = (node: unknown, edit: (replace: (v: unknown) => unknown) => unknown) => {
    if (node === null || typeof node !== 'object') return;
    out.push(edit(() => ({ ...(node as object), unknownKey: 1 })));
    for (const key of Object.keys(node)) {
      const child = (node as Record<string, unknown>)[key];
      const at = (replace: (v: unknown) => unknown) =>
        edit(() => {
          const copy: Record<string, unknown> | unknown[] = Array.isArray(node) ? [...node] : { ...(node as object) };
          const next = replace(child);
          if (next === undefined) delete (copy as Record<string, unknown>)[key];
          else (copy as Record<string, unknown>)[key] = next;
          return copy;
        });
      for (const r of [() => undefined, () => 'x', () => -1, () => null, () => 1e308, () => [], (v: unknown) => (typeof v === 'number' ? -v : v)]) out.push(at(r));
      walk(child, at);
    }
  };
  walk(value, (replace) => replace(value));
  return out;
}

t.test('every recorded validator is precompiled and agrees with the run-time compile', async (t) => {
  const precompiled = await loadPrecompiled();
  const names = [...definedValidators().keys()];
  t.ok(names.includes('scenario'), 'the scenario validator is recorded');
  for (const kind of Object.keys(SCHEMAS)) t.ok(names.includes(`message/${kind}`), `message/${kind} is recorded`);
  // one valid value per validator (every optional field set where there is one), so each validator
  // is compared on values it accepts as well as on their mutants
  const valid: Record<string, unknown> = {
    'message/task': { v: 1, taskId: 'ied7-42', iedId: 7, sizeMbit: 12.5, density: 0.03, deadlineSeconds: 1.5, createdAt: AT },
    'message/decision': { v: 1, taskId: 'ied7-42', iedId: 7, action: 2, policyVersion: 'v3', decidedAt: AT, inferenceMicros: 41.5, fallback: 'invalid-action' },
    'message/offload': { v: 1, taskId: 'ied7-42', iedId: 7, edgeServerId: 2, sizeMbit: 12.5, density: 0.03, createdAt: AT, deadlineAt: AT + 1500, uploadedAt: AT + 300, uplinkSeconds: 0.21, uplinkSharers: 3.5 },
    'message/edgeState': { v: 1, edgeServerId: 2, slot: 40, at: AT, activeQueues: 2, backlogMbit: { '7': 12.5, '12': 0.4 }, servedGcycles: 0.7 },
    'message/edgeResult': { v: 1, taskId: 'ied7-42', iedId: 7, outcome: 'completed', stage: 'edge', latencySeconds: 0.9, at: AT, edgeServerId: 2 },
    'message/result': { v: 1, taskId: 'ied7-42', iedId: 7, outcome: 'dropped', stage: 'uplink', latencySeconds: 1.5, at: AT },
    'message/band': { v: 1, gateway: 25, slot: 40, senders: [3, 0, 1, 2, 0] },
    'message/status': { v: 1, kind: 'ied', id: '3', state: 'online', at: AT, modelVersion: 'v1' },
    'message/desiredModel': { v: 1, iedId: 3, modelSet: 'gmel2024-amarl', version: 'v2', registry: 'https://registry.plant:9350', at: AT, rollbackSignature: 'QUJD' },
    'message/reportedModel': { v: 1, iedId: 3, version: 'v2', state: 'refused', refused: { version: 'v1', reason: 'older release' }, at: AT },
  };
  const scenarios = presetNames().map((name) => JSON.parse(JSON.stringify(loadScenario(name))) as unknown);
  const corpus = [...scenarios.flatMap(mutants), ...Object.values(valid).flatMap(mutants)];
  for (const name of names) {
    const spec = definedValidators().get(name);
    const pre = precompiled[name];
    if (!spec || !pre) {
      t.fail(`${name} is precompiled`);
      continue;
    }
    const runtime = new Ajv({ allErrors: spec.allErrors, strict: true }).compile(spec.schema);
    let accepted = 0;
    let disagreements = 0;
    for (const value of corpus) {
      const a = runtime(value);
      const b = pre(value);
      if (a) accepted++;
      if (a !== b || JSON.stringify(runtime.errors) !== JSON.stringify(pre.errors)) disagreements++;
    }
    t.equal(disagreements, 0, `${name}: same verdicts and errors on ${corpus.length} values (${accepted} accepted)`);
    const own = name === 'scenario' ? scenarios : name in valid ? [valid[name]] : [];
    t.ok(own.length > 0 && own.every((v) => pre(v)), `${name}: its valid samples are accepted (${own.length})`);
  }
});

t.test('defineValidator: one name, one schema; errorsText as ajv writes it', async (t) => {
  t.throws(() => defineValidator('scenario', SCHEMAS.task, { allErrors: false }), /defined twice/);
  const validate = defineValidator<unknown>('test/task-all-errors', SCHEMAS.task, { allErrors: true })();
  t.notOk(validate({ v: 1 }));
  const ajv = new Ajv({ allErrors: true, strict: true });
  t.equal(errorsText(validate.errors), ajv.errorsText(validate.errors));
  t.equal(errorsText(null), ajv.errorsText(null));
});

t.test('the gateway bundle carries every recorded validator precompiled (the build plugin ran)', { timeout: 120_000 }, async (t) => {
  const report = await analyzeGateway();
  t.same([...report.precompiled].sort(), [...definedValidators().keys()].sort());
});
