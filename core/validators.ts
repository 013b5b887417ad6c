/**
 * One way to turn a TypeBox schema into an ajv validator: `defineValidator(name, schema, options)`
 * records it and returns a getter that compiles it on first use. The gateway's bundle carries every
 * recorded validator precompiled (ajv's standalone code, deploy/build-gateway.ts fills
 * validators-precompiled.ts), so a gateway's cold start runs neither ajv's code generator nor its
 * meta-schema check (~70 ms of CPU under the unit's --no-opt); everywhere else they compile here.
 *
 * | option    | meaning                                                                   |
 * |-----------|---------------------------------------------------------------------------|
 * | allErrors | every error (a scenario file's report) or the first (a message's refusal) |
 * | strict    | always: a schema keyword ajv does not know is an error, not ignored       |
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { TSchema } from '@sinclair/typebox';
import { PRECOMPILED } from './validators-precompiled.ts';

export interface ValidatorSpec {
  readonly schema: TSchema;
  readonly allErrors: boolean;
}

const specs = new Map<string, ValidatorSpec>();
const instances = new Map<boolean, Ajv>();

/** Record a validator under `name` (unique); compiled, or taken precompiled, on the first call of the getter. */
export function defineValidator<T>(name: string, schema: TSchema, options: { allErrors: boolean }): () => ValidateFunction<T> {
  if (specs.has(name)) throw new Error(`validator "${name}" is defined twice`);
  specs.set(name, { schema, allErrors: options.allErrors });
  let compiled: ValidateFunction<T> | undefined;
  return () => {
    if (compiled) return compiled;
    const pre = PRECOMPILED[name] as ValidateFunction<T> | undefined;
    if (pre) return (compiled = pre);
    let ajv = instances.get(options.allErrors);
    if (!ajv) instances.set(options.allErrors, (ajv = new Ajv({ allErrors: options.allErrors, strict: true })));
    return (compiled = ajv.compile<T>(schema));
  };
}

/** Every validator recorded so far, by name (what the bundle precompiles). */
export function definedValidators(): ReadonlyMap<string, ValidatorSpec> {
  return specs;
}

/** ajv's errorsText ("data/path message, …"), without needing an Ajv instance. */
export function errorsText(errors: readonly ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'No errors';
  return errors.map((e) => `data${e.instancePath} ${String(e.message)}`).join(', ');
}
