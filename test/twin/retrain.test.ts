// The retraining cycle: a warm-started fine-tune in a child process, judged against the incumbent on
// the recalibrated scenario, exported only when it clears the margin.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../core/scenario/load.ts';
import { train } from '../../trainer/train.ts';
import { retrainCycle } from '../../twin/retrain.ts';

t.test('fine-tune, evaluate, promote or keep', { timeout: 180_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gmel-retrain-'));
  const trained = loadScenario('gmel2024', { ieds: 4, episodeSlots: 40, 'arrivals.probability': 0.3 });
  const incumbent = join(root, 'incumbent');
  await train({ algo: 'amarl', scenario: trained, preset: 'smoke', seed: 1, outDir: incumbent, episodes: 4 });
  const drifted = loadScenario('gmel2024', { ieds: 4, episodeSlots: 40, 'arrivals.probability': 0.8 });
  const promote = await retrainCycle({ incumbentRun: incumbent, scenario: drifted, workDir: join(root, 'work'), episodes: 3, seed: 2, marginPp: -100, modelSetDir: join(root, 'models'), validationEpisodes: 2 });
  t.ok(promote.promoted && promote.exported, `promoted at margin −100 pp (incumbent ${promote.incumbent.toFixed(3)}, candidate ${promote.candidate.toFixed(3)})`);
  t.ok(existsSync(join(promote.exported?.dir ?? '', 'manifest.json')), 'exported as a model set version');
  const config = JSON.parse(readFileSync(join(promote.candidateRun, 'config.json'), 'utf8')) as { initFrom: string; scenario: { arrivals: { probability: number } } };
  t.equal(config.initFrom, incumbent, 'warm-started from the incumbent');
  t.equal(config.scenario.arrivals.probability, 0.8, 'trained on the recalibrated scenario');
  const keep = await retrainCycle({ incumbentRun: incumbent, scenario: drifted, workDir: join(root, 'work2'), episodes: 2, seed: 3, marginPp: 100, modelSetDir: join(root, 'models2'), validationEpisodes: 2 });
  t.equal(keep.promoted, false, 'a candidate short of the margin is not promoted');
  t.notOk(existsSync(join(root, 'models2')), 'and nothing is exported');
  const bigger = loadScenario('gmel2024', { ieds: 6, episodeSlots: 40 });
  await t.rejects(train({ algo: 'amarl', scenario: bigger, preset: 'smoke', seed: 1, outDir: join(root, 'x'), episodes: 1, initFrom: incumbent }), /is amarl for 4 IEDs × 6 actions; this run is amarl for 6 × 6/);
});

t.test('the twin retrains on demand over HTTP, one cycle at a time', { timeout: 180_000 }, async (t) => {
  const { TwinMirror } = await import('../../twin/mirror.ts');
  const { Retrainer } = await import('../../twin/retrainer.ts');
  const { buildTwinApp } = await import('../../twin/routes.ts');
  const root = mkdtempSync(join(tmpdir(), 'gmel-retrain-http-'));
  const scenario = loadScenario('gmel2024', { ieds: 4, episodeSlots: 40 });
  const incumbent = join(root, 'incumbent');
  await train({ algo: 'amarl', scenario, preset: 'smoke', seed: 1, outDir: incumbent, episodes: 3 });
  const mirror = new TwinMirror({ scenario, epochMs: 0, now: () => Date.now() });
  const retrainer = new Retrainer({ mirror, incumbentRun: incumbent, modelSetDir: join(root, 'models'), workDir: join(root, 'work'), episodes: 2, marginPp: -100, onDrift: false, everyMs: 0, log: () => {} });
  const app = buildTwinApp(mirror, retrainer);
  t.equal((await app.inject({ method: 'POST', url: '/twin/retrain' })).statusCode, 202);
  t.equal((await app.inject({ method: 'POST', url: '/twin/retrain' })).statusCode, 409, 'one cycle at a time');
  await retrainer.running;
  const history = (await app.inject({ method: 'GET', url: '/twin/retrain' })).json() as { running: boolean; history: { promoted: boolean; reason: string }[] };
  t.same([history.running, history.history.length, history.history[0]?.reason, history.history[0]?.promoted], [false, 1, 'on demand', true]);
  await retrainer.stop();
  await app.close();
});

t.test('a drift that retraining cannot fix does not retrain again at once', { timeout: 180_000 }, async (t) => {
  const { TwinMirror } = await import('../../twin/mirror.ts');
  const { Retrainer } = await import('../../twin/retrainer.ts');
  const root = mkdtempSync(join(tmpdir(), 'gmel-retrain-cooldown-'));
  const scenario = loadScenario('gmel2024', { ieds: 4, episodeSlots: 40 });
  const incumbent = join(root, 'incumbent');
  await train({ algo: 'amarl', scenario, preset: 'smoke', seed: 1, outDir: incumbent, episodes: 2 });
  // a mirror that always reports the same drift
  const mirror = new TwinMirror({ scenario, epochMs: 0, now: () => Date.now() });
  const report = mirror.drift();
  mirror.drift = () => ({ ...report, drift: true, reasons: ['edge server 1 GPU 0.50 GHz vs 15 (test)'] });
  const retrainer = new Retrainer({ mirror, incumbentRun: incumbent, modelSetDir: join(root, 'models'), workDir: join(root, 'work'), episodes: 1, marginPp: 100, onDrift: true, everyMs: 0, checkEveryMs: 100, driftCooldownMs: 60_000, log: () => {} });
  for (let k = 0; k < 600 && retrainer.history.length === 0; k++) await new Promise((r) => setTimeout(r, 100));
  t.equal(retrainer.history[0]?.promoted, false, 'the first cycle promotes nothing (margin 100 points)');
  await new Promise((r) => setTimeout(r, 1500)); // fifteen more drift checks
  t.equal(retrainer.history.length + (retrainer.running ? 1 : 0), 1, 'no second cycle during the cooldown');
  await retrainer.stop();
});
