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
