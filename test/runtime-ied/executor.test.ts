// A real local job runner behind the executor interface: jobs run one at a time per IED, finish or are
// killed at their deadline, and the gateway reports what the runner says.
import t from 'tap';
import pino from 'pino';
import { loadScenario } from '../../core/scenario/load.ts';
import { systemClock, PLANT_EPOCH_MS } from '../../protocol/clock.ts';
import { CommandExecutor, type JobOutcome } from '../../runtime-ied/executor.ts';
import { IedGatewayRuntime } from '../../runtime-ied/gateway.ts';
import { createActorSession } from '../../runtime-ied/policy.ts';
import { actorToOnnx } from '../../trainer/export-onnx.ts';
import { topics } from '../../protocol/topics.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';
import { ENCODER_META, GMEL2024_SCALES } from '../helpers/models.ts';

const job = (taskId: string, deadlineMs: number) => ({ taskId, iedId: 0, sizeMbit: 8, density: 0.025, createdAt: Date.now(), deadlineAt: Date.now() + deadlineMs });

t.test('CommandExecutor: FIFO per IED, completion, kill at the deadline', async (t) => {
  const ex = new CommandExecutor(['sleep', '0.2'], 1, systemClock);
  const outcomes: { id: string; o: JobOutcome; at: number }[] = [];
  const start = Date.now();
  await new Promise<void>((resolve) => {
    let n = 0;
    const done = (id: string) => (o: JobOutcome) => {
      outcomes.push({ id, o, at: Date.now() - start });
      if (++n === 3) resolve();
    };
    ex.submit(job('a', 2000), done('a'));
    ex.submit(job('b', 2000), done('b'));
    ex.submit(job('c', 300), done('c')); // starts at ~0.4 s: already past its deadline
    t.ok(Math.abs(ex.waitSeconds(0) - 2 * 0.2) < 1e-9, 'wait = queued Gcycles / rate');
  });
  t.same(outcomes.map((x) => [x.id, x.o.completed]), [['a', true], ['b', true], ['c', false]]);
  t.ok((outcomes[1]?.at ?? 0) >= 380, `b ran after a (${outcomes[1]?.at} ms)`);
  const slow = new CommandExecutor(['sleep', '5'], 1, systemClock);
  const killed = await new Promise<JobOutcome>((resolve) => slow.submit(job('d', 300), resolve));
  t.same([killed.completed, killed.completed ? '' : killed.reason], [false, 'deadline'], 'killed at its deadline');
});

t.test('the gateway reports the executor\'s outcomes for local decisions', async (t) => {
  const scenario = loadScenario('gmel2024', { ieds: 2 });
  // an actor that always keeps tasks local (bias on action 0)
  const layers = [{ kernel: new Float32Array(20 * 6), bias: Float32Array.of(5, 0, 0, 0, 0, 0), inputs: 20, outputs: 6, activation: 'linear' as const }];
  const bytes = actorToOnnx({ kind: 'mlp', layers }, { policyVersion: 'local-only', ...ENCODER_META, ied: 0, algo: 'test', actionNames: [] });
  const sessions = new Map([[0, await createActorSession(bytes, 'node', { inputs: 20, actions: 6 })]]);
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const executor = new CommandExecutor(['sleep', '0.05'], scenario.ied.gpuGHz, systemClock);
  const gateway = await IedGatewayRuntime.create({ scenario, iedIds: [0], model: { version: 'local-only', scales: GMEL2024_SCALES, sessions }, mqtt: await connect('gw'), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger: pino({ level: 'silent' }), executor });
  const pub = await connect('pub');
  const results: { taskId: string; outcome: string; stage: string }[] = [];
  pub.on('message', (_t, payload) => results.push(JSON.parse(payload.toString())));
  await pub.subscribeAsync(topics.result(0), { qos: 1 });
  for (const [id, d] of [['fast', 2], ['late', 0.01]] as const)
    await pub.publishAsync(topics.task(0), JSON.stringify({ v: 1, taskId: id, iedId: 0, sizeMbit: 4, density: 0.02, deadlineSeconds: d, createdAt: Date.now() }), { qos: 1 });
  for (let k = 0; k < 40 && results.length < 2; k++) await new Promise((r) => setTimeout(r, 50));
  t.same(results.map((r) => [r.taskId, r.outcome, r.stage]).sort(), [['fast', 'completed', 'local'], ['late', 'dropped', 'local']]);
  t.equal(gateway.pending, 0, 'nothing left in flight');
  await gateway.close();
  await executor.close();
  for (const s of sessions.values()) await s.release();
  await endAll();
  await broker.close();
});
