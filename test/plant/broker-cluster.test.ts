// A broker cluster (3 nats-server nodes, MQTT over JetStream): the runtimes take the list of nodes
// (the list itself on two aedes brokers: test/protocol/broker-list.test.ts),
// and when the node they are on is killed (SIGKILL) they carry on through another one. Every task a
// gateway decided reaches exactly one outcome, none is decided twice, and deciding resumes.
import t from 'tap';
import pino from 'pino';
import mqtt from 'mqtt';
import { loadScenario } from '../../core/scenario/load.ts';
import { startPlant } from '../../plant/live-plant.ts';
import { hasNatsServer, startNatsCluster } from '../../plant/nats-cluster.ts';
import { parseBrokerUrl } from '../../protocol/broker-options.ts';
import { timeRefusal } from '../../protocol/refusals.ts';
import type { TaskAnnouncement } from '../../protocol/messages.ts';
import { subscriptions, topics } from '../../protocol/topics.ts';
import { untilSettled } from '../helpers/brokers.ts';
import { metricTotal } from '../helpers/metrics.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const skip = hasNatsServer ? false : 'nats-server is not installed (.ci/run installs it)';

t.test('--broker takes a list of nodes', async (t) => {
  t.equal(parseBrokerUrl('mqtt://a:1883, mqtt://b:1884'), 'mqtt://a:1883,mqtt://b:1884');
  t.throws(() => parseBrokerUrl('mqtt://a:1883,mqtts://b:8883'), /mix schemes/);
  t.throws(() => parseBrokerUrl('mqtt://a:1883,b:1884'), /scheme must be one of|got "b:1884"/);
  t.throws(() => parseBrokerUrl(Array.from({ length: 17 }, (_, k) => `mqtt://h${k}:1883`).join(',')), /at most 16/);
});

t.test('the live plant on a 3-node cluster: its node killed mid-run, nothing decided twice or lost after a decision', { skip, timeout: 200_000 }, async (t) => {
  const cluster = await startNatsCluster(3);
  t.teardown(() => cluster.close());
  // the observer sits on node 3, which stays up; the plant's clients start on node 1
  const observer = await mqtt.connectAsync(cluster.urls[2] as string, { clientId: 'cluster-observer', clean: false, protocolVersion: 4, reconnectPeriod: 200 });
  // QoS 1 is at least once: a message whose PUBACK died with the node is sent again (same content).
  // Counted by distinct content: a task decided twice would carry two decisions (two decidedAt).
  const decisions = new Map<string, Set<string>>();
  const outcomes = new Map<string, Set<string>>();
  let redelivered = 0;
  const decidedAt: number[] = [];
  let gatewayStatus = '';
  const statuses: string[] = [];
  const startedAt = Date.now();
  observer.on('message', (topic, payload) => {
    const msg = JSON.parse(payload.toString()) as { taskId: string; state?: string };
    if (topic.includes('/status/')) {
      gatewayStatus = msg.state ?? '';
      statuses.push(`${msg.state} +${Date.now() - startedAt} ms`);
      return;
    }
    const map = topic.endsWith('/decision') ? decisions : outcomes;
    const seen = map.get(msg.taskId) ?? new Set<string>();
    if (seen.has(payload.toString())) redelivered++;
    seen.add(payload.toString());
    map.set(msg.taskId, seen);
    if (map === decisions) decidedAt.push(Date.now());
  });
  await observer.subscribeAsync([subscriptions.allDecisions, subscriptions.allResults, topics.status('ied', 'all')], { qos: 1 });
  // warnings (e.g. an announce the emulator's client failed to send) are kept to be reported
  const warnings: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
  const plant = await startPlant({ scenario: loadScenario('gmel2024', { ieds: 8 }), modelPath: 'models/gmel2024-amarl', brokerUrl: cluster.url, logger });
  // every task the broker delivered to the gateway, on its first arrival: whether the gateway's
  // admission (same rule, same clock) finds it stale then; 'edge' within 50 ms of the bound, where the
  // spy's clock and the gateway's may fall either side; arrivals once the plant stops are set apart
  const SKEW_MARGIN_MS = 50;
  const reached = new Map<string, 'in-time' | 'stale' | 'edge' | 'after-stop'>();
  let stopping = false;
  const gateway = plant.gateways[0];
  if (!gateway) throw new Error('the plant started no gateway');
  const onTask = gateway.onTask.bind(gateway);
  gateway.onTask = (msg: TaskAnnouncement) => {
    const deadlineAt = msg.createdAt + msg.deadlineSeconds * 1000;
    const staleAt = (now: number) => timeRefusal(msg.createdAt, deadlineAt, now)?.code === 'stale';
    const now = Date.now();
    const kind = stopping ? 'after-stop' : staleAt(now - SKEW_MARGIN_MS) ? 'stale' : staleAt(now + SKEW_MARGIN_MS) ? 'edge' : 'in-time';
    if (!reached.has(msg.taskId)) reached.set(msg.taskId, kind);
    return onTask(msg);
  };
  await sleep(2000);
  const before = decisions.size;
  const killedAt = Date.now();
  await cluster.kill(0);
  // the gap is a figure for the bench (npm run bench -- cluster), not a timed assertion: wait for it
  let resumedAt: number | undefined;
  for (let k = 0; k < 600 && resumedAt === undefined; k++) {
    await sleep(100);
    resumedAt = decidedAt.find((at) => at > killedAt + 200);
  }
  // then until deciding is steady again: 20 decisions after the kill. A fresh-clone CI run resumed
  // after 7.1 s with 2 decisions, then every task stayed in the broker until past its deadline + the
  // skew bound (233 of 284 arrived stale): JetStream's consumer came back seconds after the session.
  // Liveness is what is asserted (within 60 s), the time it took is reported
  let steadyAt: number | undefined;
  for (let k = 0; k < 600 && steadyAt === undefined; k++) {
    if (decisions.size > before + 20) steadyAt = Date.now();
    else await sleep(100);
  }
  await sleep(1000);
  // a late Will (the dead node's, seen in runs here 2 s after the reconnect) is answered with online:
  // the status says online again within seconds, whatever came in between
  for (let k = 0; k < 100 && gatewayStatus !== 'online'; k++) await sleep(100);
  const statusBeforeStop = gatewayStatus;
  // no more tasks; then until every one announced has reached the gateway (what waited in the
  // emulator's client during the gap is still arriving after a long one), at most 30 s
  plant.emulator.stop();
  const announced = plant.emulator.announced;
  const delivery = plant.emulator.delivery;
  for (let k = 0; k < 300 && (reached.size < announced || delivery.acknowledged + delivery.failed < announced); k++) await sleep(100);
  stopping = true;
  await plant.stop(true);
  // the observer's JetStream consumer may deliver in bursts seconds apart after a failover (a CI run
  // under load: 122 outcomes for 201 decisions after a 300 ms settle): wait, at most 30 s, until
  // every decision seen has its outcome, then until nothing more arrives
  for (let k = 0; k < 300 && [...decisions.keys()].some((id) => !outcomes.has(id)); k++) await sleep(100);
  await untilSettled(() => outcomes.size);
  await observer.endAsync();
  const decidedByGateway = await metricTotal(gateway.metrics.decisions);
  const staleRefused = await metricTotal(gateway.metrics.rejected, 'reason', 'stale');
  const outcomesByGateway = await metricTotal(gateway.metrics.outcomes);
  t.ok(before > 20, `decided before the kill: ${before}`);
  t.ok(resumedAt !== undefined, `deciding again ${resumedAt === undefined ? 'never (60 s)' : `${resumedAt - killedAt} ms`} after node 1 was killed`);
  t.ok(steadyAt !== undefined, `deciding steadily again (20 decisions after the kill) ${steadyAt === undefined ? `never (60 s after it resumed; ${decisions.size - before} decisions)` : `${steadyAt - killedAt} ms after the kill`}`);
  const announcedIds = new Set(plant.emulator.log.map((a) => a.taskId));
  const arrivals = (kind: string) => [...reached.values()].filter((k) => k === kind).length;
  const neverReached = plant.emulator.log.filter((a) => !reached.has(a.taskId));
  const createdSpan = (ms: number[]) => (ms.length ? `created ${Math.min(...ms) - killedAt}..${Math.max(...ms) - killedAt} ms from the kill` : 'none');
  t.comment(`decisions the observer missed for tasks with an outcome: ${[...outcomes.keys()].filter((id) => !decisions.has(id)).length}`);
  t.comment(`announced ${announced}; reached the gateway ${reached.size}: in time ${arrivals('in-time')}, stale ${arrivals('stale')}, at the bound ${arrivals('edge')}, after the stop ${arrivals('after-stop')}; the gateway decided ${decidedByGateway}; the observer saw ${decisions.size} decisions, ${outcomes.size} outcomes, ${redelivered} delivered again (QoS 1)`);
  t.comment(`never reached the gateway: ${neverReached.length} (${createdSpan(neverReached.map((a) => a.createdAt))}); deciding resumed ${resumedAt === undefined ? '-' : resumedAt - killedAt} ms after the kill, steady ${steadyAt === undefined ? '-' : steadyAt - killedAt} ms; emulator lag up to ${plant.emulator.lag.maxMs} ms`);
  t.comment(`the emulator's QoS 1 handshakes: ${delivery.acknowledged} acknowledged, of which ${delivery.resent} sent again after its node died before the PUBACK and ${delivery.queuedWhileDisconnected} published while disconnected; ${delivery.failed} failed`);
  t.comment(`warnings: ${warnings.length}${warnings.length ? `, first: ${warnings[0]}` : ''}`);
  // the gateway's own guarantee, from its own count (the observer can miss a message): every task
  // that reached it before its deadline + the skew bound was decided once, no stale one was
  t.ok(decidedByGateway >= arrivals('in-time') && decidedByGateway <= arrivals('in-time') + arrivals('edge'), `the gateway decided every task that reached it in time, and only those (${decidedByGateway} decisions, ${arrivals('in-time')} in time, ${arrivals('edge')} at the bound)`);
  t.ok(arrivals('stale') <= staleRefused, `every stale arrival was refused as stale (${arrivals('stale')} arrivals, ${staleRefused} refusals)`);
  // the broker's side: whatever never reached the gateway was announced during the failover (a task
  // is stamped with its slot's start, published up to the emulator's lag later). A fresh-clone CI
  // run lost about 100 tasks around a long failover; NATS 2.9 is not shown here to keep QoS 1
  // across a node kill (docs/scale-out.md)
  const windowStart = killedAt - 1000 - plant.emulator.lag.maxMs;
  const windowEnd = (resumedAt ?? killedAt) + 2000;
  t.ok(neverReached.every((a) => a.createdAt >= windowStart && a.createdAt <= windowEnd), `every task that never reached the gateway was announced during the failover (${neverReached.length}: ${createdSpan(neverReached.map((a) => a.createdAt))})`);
  t.notOk(warnings.some((w) => w.includes('announce failed')), 'the emulator\'s client sent every announcement');
  // the producer retries: what it announced into the dead node, or while it had no node, went out
  // again on the next one and reaches the gateway (decided, or refused as stale if it came too late).
  // One that did not is a task that never reached the gateway, held to the failover window above
  // (test/plant/emulator-delivery.test.ts shows the retry on its own, to the message)
  const retried = plant.emulator.retried.map((r) => r.taskId);
  t.equal(delivery.acknowledged, announced, `every announcement was acknowledged by the cluster (${delivery.acknowledged} of ${announced})`);
  t.ok(retried.length > 0, `the emulator's node was killed while it announced: ${retried.length} announcements retried on another node`);
  t.ok(retried.some((id) => reached.has(id)), `retried announcements reached the gateway (${retried.filter((id) => reached.has(id)).length} of ${retried.length})`);
  // every decided task has one outcome: the gateway's own count. The observer's view is a comment
  // only: a fresh-clone CI run saw 250 decisions and 249 outcomes after a 30 s wait, while the gateway
  // had decided 250 and published 250 outcomes (NATS 2.9 can lose a QoS 1 message to a subscriber
  // across a node kill, docs/scale-out.md)
  t.equal(outcomesByGateway, decidedByGateway, `every task the gateway decided reached one outcome, by its own count (${outcomesByGateway} outcomes, ${decidedByGateway} decisions)`);
  t.equal(gateway.pending, 0, 'the gateway closed with no task, result or offload still open');
  t.comment(`decided tasks whose outcome the observer did not see: ${[...decisions.keys()].filter((id) => !outcomes.has(id)).length}`);
  t.ok([...outcomes.keys()].every((id) => announcedIds.has(id)), 'no outcome for a task that was not announced');
  t.ok([...decisions.values()].every((d) => d.size === 1), 'no task decided twice');
  t.ok([...outcomes.values()].every((o) => o.size === 1), 'no task resolved twice');
  t.equal(statusBeforeStop, 'online', `the gateway's retained status says online within 10 s of the failover (seen: ${statuses.join(', ')}; killed at +${killedAt - startedAt} ms)`);
});
