/**
 * Live vs simulator agreement (issue #4): the same scenario and the same ONNX model set, run
 * (a) in the simulator through onnxruntime-node, and (b) live for SECONDS seconds of real time
 * (emulator → gateway → edge servers over the embedded broker). Completion rates should agree within
 * 3 percentage points. `npm run bench -- agreement` writes it under bench/out/ (or --out).
 *
 *   npx tsx bench/agreement.ts [seconds=60]
 */
import pino from 'pino';
import { loadScenario } from '../core/scenario/load.ts';
import { startPlant } from '../plant/live-plant.ts';
import { runModelInSim } from '../twin/predict.ts';

export async function measureAgreement(seconds: number, modelPath = 'models/gmel2024-amarl'): Promise<Record<string, unknown>> {
  const slots = Math.round(seconds / 0.1);
  const simScenario = loadScenario('gmel2024', { episodeSlots: slots });
  const sim = await runModelInSim(simScenario, modelPath, 3, 11);
  const plant = await startPlant({ scenario: loadScenario('gmel2024'), modelPath, logger: pino({ level: 'warn' }, pino.destination(2)), seed: 11 });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const announced = plant.emulator.announced;
  await plant.stop(true);
  const live = plant.kpi.snapshot();
  const differencePp = 100 * (live.completionRate - sim.summary.completionRate);
  return {
    name: 'agreement',
    model: sim.version,
    scenario: 'gmel2024',
    simulator: { episodes: 3, slotsPerEpisode: slots, completionRate: sim.summary.completionRate, meanLatency: sim.summary.meanLatency, arrived: sim.summary.arrived },
    live: { seconds, broker: 'embedded aedes', announced, completionRate: live.completionRate, meanLatency: live.meanLatency, latencyP50: live.latencyP50, latencyP99: live.latencyP99, dropped: live.dropped },
    differencePp,
    goal: { withinPp: 3, met: Math.abs(differencePp) <= 3 },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // standalone: prints the JSON (npm run bench -- agreement --out DIR writes it)
  const result = await measureAgreement(Number(process.argv[2] ?? 60));
  console.log(JSON.stringify(result, null, 2));
  process.exit(0);
}
