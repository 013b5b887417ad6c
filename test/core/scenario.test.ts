// Scenario files: validation errors name the field; presets load.
import t from 'tap';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario, presetNames, ScenarioError, perServer } from '../../core/scenario/load.ts';
import { parseSets } from '../../core/scenario/options.ts';

const dir = mkdtempSync(join(tmpdir(), 'gmel-scenario-'));
function fileWith(mutate: (s: Record<string, any>) => void, name: string): string {
  const s = JSON.parse(JSON.stringify(loadScenario('gmel2024'))) as Record<string, any>;
  mutate(s);
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(s));
  return path;
}

t.test('presets load and validate', async (t) => {
  t.same(presetNames(), ['gmel2024', 'gmel2024-paper', 'tang2020']);
  t.equal(loadScenario('gmel2024-paper').radio.spectrum, 'shared', 'the paper\'s plant: one shared band');
  const s = loadScenario('gmel2024');
  t.equal(s.ieds, 50);
  t.equal(s.edgeServers, 5);
  t.equal(s.semantics, 'gmel');
  t.equal(loadScenario('tang2020').semantics, 'tang2020');
  t.ok(Object.isFrozen(s.task), 'frozen');
  t.same(Array.from(perServer({ min: 10, max: 20 }, 5)), [10, 12.5, 15, 17.5, 20]);
});

t.test('bad files get an error naming the field', async (t) => {
  const malformed = join(dir, 'malformed.json');
  writeFileSync(malformed, '{ "name": "x", ');
  const cases: [string, RegExp][] = [
    [malformed, /malformed JSON/],
    [fileWith((s) => { s.edge.bandwidthMHz = -5; }, 'negative-bandwidth'), /\/edge\/bandwidthMHz: must be > 0 \(got -5\)/],
    [fileWith((s) => { s.edge.bandwith = 3; }, 'unknown-key'), /\/edge\/bandwith: unknown key "bandwith"/],
    [fileWith((s) => { s.ieds = 'fifty'; }, 'wrong-type'), /\/ieds: must be integer \(got "fifty"\)/],
    [fileWith((s) => { delete s.slotSeconds; }, 'missing'), /\/slotSeconds: is required/],
    [fileWith((s) => { s.task.sizeMbit = { min: 9, max: 1 }; }, 'range'), /\/task\/sizeMbit: min 9 > max 1/],
    [fileWith((s) => { s.edge.gpuGHz = [10, 20]; }, 'per-server'), /\/edge\/gpuGHz: has 2 values for 5 edge servers/],
    [fileWith((s) => { s.arrivals.probability = 1.5; }, 'prob'), /\/arrivals\/probability/],
    [fileWith((s) => { s.radio.spectrum = 'shared'; }, 'shared-no-band'), /\/radio\/bandwidthMHz: is required when radio.spectrum is "shared"/],
    [fileWith((s) => { s.radio.spectrum = 'shared'; s.radio.bandwidthMHz = 20; }, 'shared-two-bands'), /\/edge\/bandwidthMHz: must be absent when radio.spectrum is "shared"/],
    [fileWith((s) => { s.radio.bandwidthMHz = 20; }, 'per-server-system-band'), /\/radio\/bandwidthMHz: is only for radio.spectrum "shared"/],
    [fileWith((s) => { delete s.edge.bandwidthMHz; }, 'per-server-no-band'), /\/edge\/bandwidthMHz: is required/],
    [fileWith((s) => { s.radio.spectrum = 'both'; }, 'spectrum-kind'), /\/radio\/spectrum/],
    [join(dir, 'absent.json'), /no such preset .* or file/],
  ];
  for (const [path, pattern] of cases) {
    t.throws(() => loadScenario(path), pattern, path);
    t.throws(() => loadScenario(path), ScenarioError);
  }
});

t.test('overrides are validated too', async (t) => {
  t.equal(loadScenario('gmel2024', { 'arrivals.probability': 0.7 }).arrivals.probability, 0.7);
  t.throws(() => loadScenario('gmel2024', { 'ied.gpuGHz': 'fast' }), /\/ied\/gpuGHz/);
  t.throws(() => loadScenario('gmel2024', { 'ieds.count': 3 }), /not an object/);
});

t.test('an override of null removes the field: a per-server plant switched to one shared band', async (t) => {
  t.equal(loadScenario('gmel2024').radio.spectrum ?? 'per-server', 'per-server', 'gmel2024 has a band per server');
  t.throws(() => loadScenario('gmel2024', { 'radio.spectrum': 'shared', 'radio.bandwidthMHz': 20 }), /edge\/bandwidthMHz: must be absent .*--set edge\.bandwidthMHz=null removes it/);
  const shared = loadScenario('gmel2024', { 'radio.spectrum': 'shared', 'radio.bandwidthMHz': 20, 'edge.bandwidthMHz': null });
  t.equal(shared.radio.spectrum, 'shared');
  t.equal(shared.radio.bandwidthMHz, 20);
  t.notOk('bandwidthMHz' in shared.edge, 'the per-server bands are gone');
  const back = loadScenario('gmel2024-paper', { 'radio.spectrum': 'per-server', 'radio.bandwidthMHz': null, 'edge.bandwidthMHz': 15 });
  t.equal(back.edge.bandwidthMHz, 15, 'and back');
  t.notOk('bandwidthMHz' in back.radio);
  t.equal(parseSets(['edge.bandwidthMHz=null'])['edge.bandwidthMHz'], null, 'on the command line, --set key=null');
});
