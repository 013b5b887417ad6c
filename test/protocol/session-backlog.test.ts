// A runtime that was away: the QoS 1 messages its persistent session kept arrive right after it
// reconnects, before it has attached its handler. They are held and handed over, in order, not lost.
import t from 'tap';
import pino from 'pino';
import { Registry } from 'prom-client';
import { connectMqtt } from '../../protocol/mqtt.ts';
import { listen, type Accepted } from '../../protocol/inbox.ts';
import { runtimeMetrics } from '../../protocol/observability.ts';
import { topics } from '../../protocol/topics.ts';
import { startAedes } from '../helpers/brokers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('messages kept by a persistent session survive the gap before listen()', async (t) => {
  const broker = await startAedes();
  const logger = pino({ level: 'silent' });
  const subscriptions = [topics.offload(1)];
  const first = await connectMqtt({ url: broker.url, clientId: 'backlog-edge' });
  await listen({ mqtt: first, metrics: runtimeMetrics(new Registry(), 'first'), logger, subscriptions, dispatch: () => {} });
  await first.endAsync();
  const pub = await connectMqtt({ url: broker.url, clientId: 'backlog-pub' });
  const offload = (taskId: string) => JSON.stringify({ v: 1, taskId, iedId: 0, edgeServerId: 1, sizeMbit: 1, density: 0.01, createdAt: Date.now(), deadlineAt: Date.now() + 5000, uploadedAt: Date.now() });
  for (const id of ['a', 'b', 'c']) await pub.publishAsync(topics.offload(1), offload(id), { qos: 1 });
  const again = await connectMqtt({ url: broker.url, clientId: 'backlog-edge' });
  await sleep(300); // the runtime is busy starting up: the kept messages arrive meanwhile
  const got: string[] = [];
  await listen({ mqtt: again, metrics: runtimeMetrics(new Registry(), 'again'), logger, subscriptions, dispatch: (d: Accepted) => void (d.kind === 'offload' && got.push(d.message.taskId)) });
  await pub.publishAsync(topics.offload(1), offload('d'), { qos: 1 });
  for (let k = 0; k < 40 && got.length < 4; k++) await sleep(25);
  t.same(got, ['a', 'b', 'c', 'd'], 'the kept messages first, in order, then the live one');
  await again.endAsync();
  await pub.endAsync();
  await broker.close();
});

for (const ackAfterListen of [true, false]) {
  t.test(`a process that dies before it listens ${ackAfterListen ? 'with ackAfterListen loses nothing' : 'without ackAfterListen has acknowledged what it never handled'}`, async (t) => {
    const broker = await startAedes();
    const logger = pino({ level: 'silent' });
    const subscriptions = [topics.offload(1)];
    const first = await connectMqtt({ url: broker.url, clientId: 'dies-early' });
    await listen({ mqtt: first, logger, subscriptions, dispatch: () => {} });
    await first.endAsync();
    const pub = await connectMqtt({ url: broker.url, clientId: 'dies-early-pub' });
    const offload = (taskId: string) => JSON.stringify({ v: 1, taskId, iedId: 0, edgeServerId: 1, sizeMbit: 1, density: 0.01, createdAt: Date.now(), deadlineAt: Date.now() + 5000, uploadedAt: Date.now() });
    for (const id of ['a', 'b']) await pub.publishAsync(topics.offload(1), offload(id), { qos: 1 });
    const doomed = await connectMqtt({ url: broker.url, clientId: 'dies-early', ackAfterListen });
    await sleep(300); // the kept messages arrive while it starts up; then it dies (kill -9: no DISCONNECT)
    doomed.stream.destroy();
    doomed.end(true);
    await sleep(100);
    const got: string[] = [];
    const next = await connectMqtt({ url: broker.url, clientId: 'dies-early' });
    await listen({ mqtt: next, logger, subscriptions, dispatch: (d: Accepted) => void (d.kind === 'offload' && got.push(d.message.taskId)) });
    for (let k = 0; k < 20 && got.length < 2; k++) await sleep(25);
    if (ackAfterListen) t.same(got, ['a', 'b'], 'the broker kept both: neither was acknowledged before a handler took it');
    else t.notOk(got.includes('a'), 'the first was acknowledged on arrival and is gone with the process');
    await next.endAsync();
    await pub.endAsync();
    await broker.close();
  });
}

for (const ackAfterListen of [true, false]) {
  t.test(`a runtime slower to listen than the early hold ${ackAfterListen ? 'with ackAfterListen still gets what arrived early' : 'without ackAfterListen: the early messages were let go'}`, async (t) => {
    const broker = await startAedes();
    const logger = pino({ level: 'silent' });
    const subscriptions = [topics.offload(1)];
    const first = await connectMqtt({ url: broker.url, clientId: 'slow-start' });
    await listen({ mqtt: first, logger, subscriptions, dispatch: () => {} });
    await first.endAsync();
    const pub = await connectMqtt({ url: broker.url, clientId: 'slow-start-pub' });
    await pub.publishAsync(topics.offload(1), JSON.stringify({ v: 1, taskId: 'early', iedId: 0, edgeServerId: 1, sizeMbit: 1, density: 0.01, createdAt: Date.now(), deadlineAt: Date.now() + 5000, uploadedAt: Date.now() }), { qos: 1 });
    const slow = await connectMqtt({ url: broker.url, clientId: 'slow-start', ackAfterListen, earlyHoldMs: 100 });
    await sleep(400); // longer than the hold
    const got: string[] = [];
    await listen({ mqtt: slow, logger, subscriptions, dispatch: (d: Accepted) => void (d.kind === 'offload' && got.push(d.message.taskId)) });
    await sleep(100);
    if (ackAfterListen) t.same(got, ['early'], 'held until a handler took it: a journaling gateway never acknowledges what it did not journal');
    else t.same(got, [], 'a client that never listens does not hold messages (or PUBACKs) forever');
    await slow.endAsync();
    await pub.endAsync();
    await broker.close();
  });
}
