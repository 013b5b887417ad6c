// The KPI monitor counts each decision and each outcome once, whatever QoS 1 redelivers.
import t from 'tap';
import { KpiMonitor } from '../../plant/kpi.ts';
import { topics } from '../../protocol/topics.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';

t.test('redelivered decisions and results are counted once', async (t) => {
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const kpi = await KpiMonitor.create(await connect('kpi'));
  const pub = await connect('pub');
  const decision = JSON.stringify({ v: 1, taskId: 'd-1', iedId: 0, action: 1, policyVersion: 'v', decidedAt: Date.now(), inferenceMicros: 9 });
  const result = JSON.stringify({ v: 1, taskId: 'd-1', iedId: 0, outcome: 'completed', stage: 'edge', latencySeconds: 0.4, at: Date.now() });
  for (let k = 0; k < 2; k++) {
    await pub.publishAsync(topics.decision(0), decision, { qos: 1 });
    await pub.publishAsync(topics.result(0), result, { qos: 1 });
  }
  for (let k = 0; k < 40 && kpi.snapshot().completed < 1; k++) await new Promise((r) => setTimeout(r, 25));
  await new Promise((r) => setTimeout(r, 100));
  const s = kpi.snapshot();
  t.same([s.decisions, s.completed], [1, 1], 'one decision, one completion');
  await endAll();
  await broker.close();
});

t.test('completion counts every announced task; decisions/s is over the run', async (t) => {
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  let now = 1_000_000;
  const kpi = await KpiMonitor.create(await connect('kpi'), () => now);
  const pub = await connect('pub');
  for (const id of ['a', 'b', 'c', 'a']) {
    const task = JSON.stringify({ v: 1, taskId: id, iedId: 0, sizeMbit: 10, density: 0.03, deadlineSeconds: 1.5, createdAt: Date.now() });
    await pub.publishAsync(topics.task(0), task, { qos: 1 });
  }
  for (const [id, outcome] of [['a', 'completed'], ['b', 'dropped']] as const) {
    await pub.publishAsync(topics.decision(0), JSON.stringify({ v: 1, taskId: id, iedId: 0, action: 1, policyVersion: 'v', decidedAt: Date.now(), inferenceMicros: 9 }), { qos: 1 });
    await new Promise((r) => setTimeout(r, 50));
    now += 2000; // the second decision comes 2 s after the first
    await pub.publishAsync(topics.result(0), JSON.stringify({ v: 1, taskId: id, iedId: 0, outcome, stage: 'edge', latencySeconds: 0.4, at: Date.now() }), { qos: 1 });
  }
  for (let k = 0; k < 40 && kpi.snapshot().dropped.total < 1; k++) await new Promise((r) => setTimeout(r, 25));
  const s = kpi.snapshot();
  t.same([s.announced, s.completed, s.dropped.total, s.unresolved], [3, 1, 1, 1], '3 announced (one twice), 1 completed, 1 dropped, 1 never resolved');
  t.equal(s.completionRate, 1 / 3, 'completion over announced tasks: the unresolved one counts against it');
  t.equal(s.completionOfResolved, 1 / 2);
  t.equal(s.decisionsPerSecond, 1 / 2, '2 decisions: one interval of 2 s between the first and the latest');
  t.equal(s.decisionsLastSecond, 0, 'none in the last second of the monitor\'s clock');
  await endAll();
  await broker.close();
});
