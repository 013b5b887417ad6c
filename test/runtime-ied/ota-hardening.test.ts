// Over the air, hardened (#10): a desired-model message stamped far in the future is refused and blocks
// nothing; the registry is the one the gateway's operator pinned; the manifest's signature is verified
// before any model file is fetched; declared sizes are capped and enforced while streaming; a refusal
// never echoes what was fetched.
import t from 'tap';
import pino from 'pino';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../core/scenario/load.ts';
import { systemClock, PLANT_EPOCH_MS } from '../../protocol/clock.ts';
import { MODEL_RELEASE, MODEL_SIGNATURE, signModelSet } from '../../core/model-signature.ts';
import { generateKeys } from '../../deploy/signing.ts';
import { buildRegistryApp } from '../../deploy/registry.ts';
import { IedGatewayRuntime } from '../../runtime-ied/gateway.ts';
import { loadModelHandle, releaseModel } from '../../runtime-ied/model-loader.ts';
import { resolveModelDir } from '../../core/model-set.ts';
import { ModelUpdater, MAX_DESIRE_CLOCK_SKEW_MS, MAX_MODEL_FILE_BYTES } from '../../runtime-ied/ota.ts';
import { decode, encode } from '../../protocol/codec.ts';
import { topics } from '../../protocol/topics.ts';
import type { ReportedModel } from '../../protocol/messages.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';

const token = 'ota-hardening-token-0123456789';
const source = resolveModelDir('models/gmel2024-amarl');

/** A copy of the shipped set as `version`, its manifest edited, signed with `key` (or not) at `sequence`. */
function makeSet(dir: string, version: string, key: string | undefined, sequence: number, edit: (m: Record<string, unknown>) => Record<string, unknown> = (m) => m): string {
  cpSync(source, dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(edit({ ...manifest, version })));
  if (key) signModelSet(dir, readFileSync(key, 'utf8'), { sequence });
  return dir;
}

t.test('OTA hardening', { timeout: 90_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gmel-ota-hard-'));
  const keys = generateKeys(join(root, 'keys'));
  const stranger = generateKeys(join(root, 'stranger'));
  const registry = buildRegistryApp({ storeDir: join(root, 'store'), token });
  const url = await registry.listen({ port: 0, host: '127.0.0.1' });
  const sets: Record<string, string> = {
    v2: makeSet(join(root, 'build', 'v2'), 'v2', keys.privateKey, 2),
    v3: makeSet(join(root, 'build', 'v3'), 'v3', stranger.privateKey, 3),
    v4: makeSet(join(root, 'build', 'v4'), 'v4', undefined, 4),
    v8: makeSet(join(root, 'build', 'v8'), 'v8', keys.privateKey, 8),
  };
  for (const [version, dir] of Object.entries(sets))
    for (const f of [...readdirSync(dir).filter((f) => f !== 'manifest.json'), 'manifest.json']) {
      const res = await fetch(`${url}/models/plant/${version}/${f}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body: readFileSync(join(dir, f)) });
      t.ok(res.status === 201 || res.status === 202, `${version}/${f} published`);
    }
  // v7 exists only in the gateway's view of the registry: a validly signed manifest declaring a 400 MB model
  const v7 = makeSet(join(root, 'build', 'v7'), 'v7', keys.privateKey, 7, (m) => ({ ...m, files: { ...(m.files as object), 'ied-0.onnx': { ...(m.files as Record<string, object>)['ied-0.onnx'], bytes: 400 * 1024 * 1024 } } }));
  // a metrics endpoint on the gateway's host, the target of a forged registry URL
  const metrics = createServer((_req, res) => res.end('# HELP secret_metric_total what the gateway must not echo\nsecret_metric_total 42\n'));
  await new Promise<void>((r) => metrics.listen(0, '127.0.0.1', r));
  const metricsUrl = `http://127.0.0.1:${(metrics.address() as AddressInfo).port}`;

  const fetched: string[] = [];
  let pulled = 0;
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const u = String(input);
    fetched.push(u);
    const v7file = /\/v7\/([^/]+)$/.exec(u)?.[1];
    if (v7file) return existsSync(join(v7, v7file)) ? new Response(readFileSync(join(v7, v7file))) : new Response('no', { status: 404 });
    if (u.endsWith('/v8/ied-0.onnx')) // the registry (or a proxy) sends far more than the manifest declares
      return new Response(new ReadableStream({ pull(c) { pulled += 65536; if (pulled > 20 * 1024 * 1024) c.close(); else c.enqueue(new Uint8Array(65536)); } }));
    return fetch(input, init);
  }) as typeof fetch;

  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const scenario = loadScenario('gmel2024', { ieds: 4 });
  const logger = pino({ level: 'silent' });
  const trustedPublicKey = readFileSync(keys.publicKey, 'utf8');
  const gateways: IedGatewayRuntime[] = [];
  const start = async (name: string, iedIds: number[], extra: { registry?: string }) => {
    const c = await connect(`gw-${name}`);
    const gateway = await IedGatewayRuntime.create({ scenario, iedIds, model: await loadModelHandle(source, scenario, iedIds, 'node'), mqtt: c, clock: systemClock, epochMs: PLANT_EPOCH_MS, logger });
    gateways.push(gateway);
    const workDir = join(root, `ota-${name}`);
    const updater = await ModelUpdater.create({ gateway, mqtt: c, iedIds, scenario, engine: 'node', trustedPublicKey, workDir, logger, fetchImpl, ...extra });
    return { gateway, updater, workDir };
  };
  const pinned = await start('pinned', [0, 1], { registry: url });
  const unpinned = await start('unpinned', [2, 3], {});
  const reports = new Map<number, ReportedModel[]>();
  const operator = await connect('operator');
  operator.on('message', (topic, payload) => {
    const d = decode(topic, payload);
    if (d.ok && d.kind === 'reportedModel') reports.set(d.message.iedId, [...(reports.get(d.message.iedId) ?? []), d.message]);
  });
  await operator.subscribeAsync([topics.reportedModel(0), topics.reportedModel(2)], { qos: 1 });
  const desire = async (gw: typeof pinned, iedId: number, version: string, extra: { at?: number; registry?: string } = {}) => {
    await operator.publishAsync(topics.desiredModel(iedId), encode('desiredModel', { v: 1, iedId, modelSet: 'plant', version, registry: extra.registry ?? url, at: extra.at ?? Date.now() }), { qos: 1, retain: true });
    await new Promise((r) => setTimeout(r, 300));
    await gw.updater.settled();
    await new Promise((r) => setTimeout(r, 100));
    return reports.get(iedId)?.at(-1);
  };

  // 2. a wish stamped far in the future is refused, and the next legitimate one still runs
  const future = await desire(pinned, 0, 'v2', { at: 1e308 });
  t.same([future?.state, future?.refused?.version], ['refused', 'v2'], 'at: 1e308 refused');
  t.match(future?.refused?.reason ?? '', /ahead of this gateway's clock/);
  t.equal(fetched.length, 0, 'nothing fetched for it');
  t.equal(MAX_DESIRE_CLOCK_SKEW_MS, 5000);
  // a wish a little ahead (within the skew) is followed; it outranks later wishes only until the clock passes it
  const soon = await desire(pinned, 0, 'v2', { at: Date.now() + 200 });
  t.same([soon?.state, soon?.version], ['running', 'v2'], 'a wish within the clock skew is followed');
  t.equal(pinned.gateway.modelVersion, 'v2', 'OTA still works after the far-future message');

  // 3a. signature first: a set signed by another key, or unsigned, never has a model file fetched
  t.match((await desire(pinned, 0, 'v3'))?.refused?.reason ?? '', /signature does not match/);
  t.match((await desire(pinned, 0, 'v4'))?.refused?.reason ?? '', /unsigned/);
  t.same(fetched.filter((u) => /\/v[34]\/.*\.onnx$/.test(u)), [], 'no model file of v3 or v4 was fetched');

  // 3b. the registry is the pinned one: a forged registry URL is refused before anything is fetched
  const before = fetched.length;
  const forged = await desire(pinned, 0, 'v2-ssrf', { registry: `${metricsUrl}/metrics?` });
  t.same([forged?.state, forged?.refused?.version], ['refused', 'v2-ssrf']);
  t.match(forged?.refused?.reason ?? '', /not the registry this gateway follows/);
  t.equal(fetched.length, before, 'the forged registry was never contacted');

  // 3c. declared sizes are capped before fetching, and enforced while streaming
  const huge = await desire(pinned, 0, 'v7');
  t.match(huge?.refused?.reason ?? '', new RegExp(`ied-0\\.onnx declares ${400 * 1024 * 1024} bytes.*${MAX_MODEL_FILE_BYTES}`));
  t.same(fetched.filter((u) => /\/v7\/.*\.onnx$/.test(u)), [], 'the 400 MB model was never requested');
  const flood = await desire(pinned, 0, 'v8');
  t.match(flood?.refused?.reason ?? '', /ied-0\.onnx: more than the declared \d+ bytes/);
  t.ok(pulled <= 1024 * 1024, `the download stopped past the declared size (${pulled} bytes pulled of 20 MB offered)`);
  t.same(readdirSync(pinned.workDir).filter((f) => f !== 'plant' && f !== 'ota-state.json'), [], `no temporary folder left (${readdirSync(pinned.workDir).join(', ')})`);
  t.notOk(existsSync(join(pinned.workDir, 'plant', 'v8')), 'v8 never moved into place');
  t.equal(pinned.gateway.modelVersion, 'v2', 'v2 kept through every refusal');

  // 3d. without a pinned registry (legacy), a registry URL that answers with something else is refused
  // without echoing it into the retained report
  const echo = await desire(unpinned, 2, 'v2', { registry: `${metricsUrl}/metrics` });
  t.equal(echo?.state, 'refused');
  t.notMatch(echo?.refused?.reason ?? '', /secret_metric|HELP/, `the reason does not echo the response: ${echo?.refused?.reason}`);
  t.match((await desire(unpinned, 2, 'v2', { registry: `${url}/?x=1` }))?.refused?.reason ?? '', /query/, 'a registry URL with a query is refused');
  t.same([(await desire(unpinned, 2, 'v2'))?.state, unpinned.gateway.modelVersion], ['running', 'v2'], 'the real registry still works unpinned');
  t.ok(existsSync(join(sets.v2 as string, MODEL_RELEASE)) && existsSync(join(sets.v2 as string, MODEL_SIGNATURE)), 'sign-models writes the signature and the signed release');

  for (const g of gateways) {
    await g.close();
    await releaseModel(g.currentModel);
  }
  await endAll();
  await broker.close();
  await registry.close();
  await new Promise((r) => metrics.close(r));
});
