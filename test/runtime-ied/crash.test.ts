// A journaling gateway killed with SIGKILL mid-run (issue #10, defect 9): after it restarts on the same
// journal every announced task has exactly one result, a replay of an old task id is refused, and a
// retained task is never run twice across restarts. The same run without --journal loses tasks: that
// is the defect this test was written against.
import t from 'tap';
import pino from 'pino';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenario } from '../../core/scenario/load.ts';
import { systemClock, PLANT_EPOCH_MS } from '../../protocol/clock.ts';
import { topics } from '../../protocol/topics.ts';
import { EdgeServerRuntime } from '../../runtime-edge/edge-server.ts';
import { hasMosquitto, startMosquitto, startAedes, clientPool } from '../helpers/brokers.ts';

const bin = fileURLToPath(new URL('../../bin/gmel.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const IEDS = [0, 1, 2, 3];

t.test('kill -9 of a journaling gateway: one result per task, replays refused', { timeout: 90_000 }, async (t) => {
  const scenario = loadScenario('gmel2024', { ieds: IEDS.length });
  const logger = pino({ level: 'silent' });
  const broker = hasMosquitto ? await startMosquitto() : await startAedes();
  t.comment(`broker: ${hasMosquitto ? 'mosquitto' : 'aedes (mosquitto not installed)'}`);
  t.teardown(() => broker.close());
  const { connect, endAll } = clientPool(broker.url);
  t.teardown(endAll);
  const edges: EdgeServerRuntime[] = [];
  for (let m = 1; m <= scenario.edgeServers; m++) edges.push(await EdgeServerRuntime.create({ scenario, edgeServerId: m, mqtt: await connect(`edge-${m}`), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger }));
  t.teardown(() => Promise.all(edges.map((e) => e.close())));

  const journal = mkdtempSync(join(tmpdir(), 'gmel-crash-'));
  let child: ChildProcess | undefined;
  let logs = '';
  const start = () => new Promise<void>((resolve, reject) => {
    const c = spawn(process.execPath, [bin, 'ied', '--ieds', '0-3', '--set', `ieds=${IEDS.length}`, '--broker', broker.url, '--journal', journal, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    let out = '';
    const take = (b: Buffer) => {
      out += b.toString();
      logs += b.toString();
    };
    c.stdout?.on('data', take);
    c.stderr?.on('data', take);
    const online = setInterval(() => {
      if (/health and metrics/.test(out)) clearInterval(online), resolve();
    }, 50);
    c.once('exit', (code, signal) => (clearInterval(online), reject(new Error(`gateway exited (${code ?? signal}): ${out}`))));
  });
  const kill9 = () => new Promise<void>((resolve) => {
    const c = child as ChildProcess;
    c.removeAllListeners('exit');
    c.once('exit', () => resolve());
    c.kill('SIGKILL');
  });
  t.teardown(() => child?.kill('SIGKILL'));

  const obs = await connect('observer');
  // a result the broker had not acknowledged when the process died is sent again, byte for byte
  // (at-least-once): a task's outcome is the set of distinct result payloads under its id
  const results = new Map<string, Set<string>>();
  let repeats = 0;
  const decisions = new Map<string, number>();
  obs.on('message', (topic, payload) => {
    const { taskId } = JSON.parse(payload.toString()) as { taskId: string };
    if (topic.endsWith('/decision')) decisions.set(taskId, (decisions.get(taskId) ?? 0) + 1);
    else {
      const seen = results.get(taskId) ?? new Set<string>();
      if (seen.has(payload.toString())) repeats++;
      results.set(taskId, seen.add(payload.toString()));
    }
  });
  await obs.subscribeAsync([topics.result(0).replace('/0/', '/+/'), topics.decision(0).replace('/0/', '/+/')], { qos: 1 });
  const pub = await connect('announcer');
  // a replay is the same message again: the same id and the same createdAt (createdAtOf keeps the first)
  const createdAtOf = new Map<string, number>();
  const announce = (taskId: string, iedId: number, retain = false) => {
    const createdAt = createdAtOf.get(taskId) ?? Date.now();
    createdAtOf.set(taskId, createdAt);
    return pub.publishAsync(topics.task(iedId), JSON.stringify({ v: 1, taskId, iedId, sizeMbit: 30, density: 0.05, deadlineSeconds: 2.5, createdAt }), { qos: 1, retain });
  };

  await start();
  await announce('kept', 0, true); // retained: the broker hands it to every new subscription
  for (let k = 0; k < 100 && !results.has('kept'); k++) await sleep(50); // resolved before the first kill
  const announced: string[] = ['kept'];
  for (let k = 0; k < 160; k++) {
    const id = `c-${k}`;
    announced.push(id);
    await announce(id, k % IEDS.length);
    if (k === 60) {
      await kill9(); // tasks are in every stage now: pending, local, uplink, at an edge server
      await start();
    } else if (k === 120) {
      await kill9();
      await start();
    } else await sleep(20);
  }
  for (let k = 0; k < 200 && announced.some((id) => !results.has(id)); k++) await sleep(50);
  // replays of tasks the first two processes accepted: refused by id while it is remembered, as stale after
  const replayed = ['c-0', 'c-61', 'c-100', 'kept'];
  const before = replayed.map((id) => decisions.get(id));
  for (const id of replayed) await announce(id, Number(id.split('-')[1] ?? 0) % IEDS.length);
  await sleep(800);

  t.same(announced.filter((id) => results.get(id)?.size !== 1).map((id) => `${id}: ${results.get(id)?.size ?? 0}`), [], 'every announced task has exactly one result (one distinct result message)');
  t.comment(`identical results sent again after a kill (at-least-once): ${repeats}`);
  t.equal(decisions.get('kept'), 1, 'the retained task, resolved before the kills, was decided once over three processes');
  // a task open at a kill is decided again by the next process (its first run died with the process),
  // so a decision count can be 2; a replay must add none
  t.same(replayed.map((id) => decisions.get(id)), before, 'replayed ids were not decided again');
  t.ok(before.every((n) => n !== undefined), 'and each had been decided');
  const recoveries = logs.split('\n').filter((l) => l.includes('recovered from the task journal')).map((l) => JSON.parse(l) as { offloaded: number; redecided: number; dropped: number; republished: number });
  t.equal(recoveries.length, 2, 'each restart recovered from the journal');
  t.ok(recoveries.some((r) => r.offloaded + r.redecided + r.dropped > 0), `open tasks were carried across a kill: ${JSON.stringify(recoveries)}`);
  await kill9();
});
