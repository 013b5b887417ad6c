/**
 * The scenario flags every command that loads a plant shares (`--scenario`, `--set`), and the IED-list
 * syntax (`7`, `0,1,2`, `0-49`). Commands declare them here once so their help and errors read alike.
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { loadScenario, parseOverrideValue } from './load.ts';
import type { Scenario } from './schema.ts';

export interface ScenarioFlags {
  scenario: string;
  set: string[];
}

/** collects a repeatable flag's values in order */
export const repeatable = (v: string, acc: string[]): string[] => [...acc, v];

/** `--scenario <name|file>` and the repeatable `--set key=value`. */
export function scenarioOptions(cmd: Command, description = 'plant scenario: preset name or JSON file'): Command {
  return cmd
    .option('--scenario <name|file>', description, 'gmel2024')
    .option('--set <key=value>', 'override a scenario field (repeatable)', repeatable, [] as string[]);
}

/** `--set a.b=1 --set c=x` → { 'a.b': 1, c: 'x' } (values parsed as JSON where they are JSON). */
export function parseSets(sets: readonly string[], flag = '--set'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of sets) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} expects key=value, got "${item}"`);
    out[item.slice(0, eq)] = parseOverrideValue(item.slice(eq + 1));
  }
  return out;
}

/** The scenario the flags name, overrides applied, validated and frozen (load.ts). */
export function scenarioFrom(o: ScenarioFlags): Scenario {
  return loadScenario(o.scenario, parseSets(o.set));
}

/** `7`, `0,1,2`, `0-49` (and mixes) → sorted unique ids, each in 0..count−1. */
export function parseIedIds(text: string, count: number, flag = '--ieds'): number[] {
  const ids = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new UsageError(`${flag}: "${part}" is not an id or a range a-b`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let i = a; i <= b; i++) {
      if (i >= count) throw new UsageError(`${flag}: IED ${i} is not in 0..${count - 1}`);
      ids.add(i);
    }
  }
  return [...ids].sort((x, y) => x - y);
}
