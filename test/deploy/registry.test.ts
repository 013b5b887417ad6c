// The model registry: reads are open, writes need the bearer token (checked before the body is read), a
// version is published only when its manifest verifies and every path it names stays in the store,
// published versions are immutable, and uploads are capped per request and per store.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRegistryApp } from '../../deploy/registry.ts';
import { resolveModelDir, sha256 } from '../../core/model-set.ts';

const token = 'test-token-0123456789abcdef';
const source = resolveModelDir('models/gmel2024-amarl');
const version = source.split('/').at(-1) as string;

t.test('registry', async (t) => {
  const app = buildRegistryApp({ storeDir: mkdtempSync(join(tmpdir(), 'gmel-registry-')), token });
  const put = (file: string, body: Buffer, auth = `Bearer ${token}`) =>
    app.inject({ method: 'PUT', url: `/models/plant/${version}/${file}`, headers: { 'content-type': 'application/octet-stream', authorization: auth }, payload: body });
  const model = readFileSync(join(source, 'ied-0.onnx'));
  t.equal((await put('ied-0.onnx', model, '')).statusCode, 401, 'no token: refused');
  t.equal((await put('ied-0.onnx', model, 'Bearer wrong-token-0123456789ab')).statusCode, 401, 'wrong token: refused');
  t.equal((await put('..%2Fescape', model)).statusCode, 400, 'no path leaves the store');
  // a manifest whose files are not all there is refused
  t.equal((await put('ied-0.onnx', model)).statusCode, 202);
  const early = await put('manifest.json', readFileSync(join(source, 'manifest.json')));
  t.equal(early.statusCode, 422);
  t.match(early.json().error, /ied-1\.onnx is missing/);
  // a tampered file is refused at publication
  const files = readdirSync(source).filter((f) => f.endsWith('.onnx'));
  for (const f of files) {
    const bytes = readFileSync(join(source, f));
    if (f === 'ied-4.onnx') bytes[60] = (bytes[60] as number) ^ 1;
    t.equal((await put(f, bytes)).statusCode, 202);
  }
  const tampered = await put('manifest.json', readFileSync(join(source, 'manifest.json')));
  t.equal(tampered.statusCode, 422);
  t.match(tampered.json().error, /ied-4\.onnx has sha256/);
  t.equal((await put('ied-4.onnx', readFileSync(join(source, 'ied-4.onnx')))).statusCode, 202);
  t.equal((await put('manifest.json', readFileSync(join(source, 'manifest.json')))).statusCode, 201, 'published once complete and intact');
  t.same((await app.inject({ method: 'GET', url: '/models' })).json(), { plant: [version] });
  const got = await app.inject({ method: 'GET', url: `/models/plant/${version}/ied-7.onnx` });
  t.equal(got.statusCode, 200);
  t.ok(Buffer.from(got.rawPayload).equals(readFileSync(join(source, 'ied-7.onnx'))), 'serves the exact bytes');
  t.equal((await put('ied-7.onnx', model)).statusCode, 409, 'published versions are immutable');
  t.equal((await app.inject({ method: 'GET', url: `/models/plant/${version}/ied-99.onnx` })).statusCode, 404);
  t.throws(() => buildRegistryApp({ storeDir: tmpdir(), token: 'short' }), /at least 16 characters/);
  await app.close();
});

// Hardening (#10): authentication before the body is read, paths confined to the store, upload caps.
t.test('an unauthenticated upload is refused with 401 before its body is read', async (t) => {
  const { request } = await import('node:http');
  const store = mkdtempSync(join(tmpdir(), 'gmel-registry-auth-'));
  const app = buildRegistryApp({ storeDir: store, token });
  const url = new URL(await app.listen({ port: 0, host: '127.0.0.1' }));
  // announces 60 MB, sends 64 KiB, then waits: a server that buffers the body before judging never answers
  const status = await new Promise<number | string>((resolve) => {
    const req = request({ host: url.hostname, port: url.port, method: 'PUT', path: `/models/plant/${version}/ied-0.onnx`, headers: { 'content-type': 'application/octet-stream', 'content-length': String(60_000_000) } });
    const timer = setTimeout(() => {
      req.destroy();
      resolve('no answer within 3 s (the body is being buffered)');
    }, 3000);
    req.on('response', (res) => {
      clearTimeout(timer);
      res.resume();
      req.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => {});
    req.write(Buffer.alloc(64 * 1024));
  });
  t.equal(status, 401, 'answered 401 while 59.9 MB of the body were still unsent');
  t.notOk(existsSync(join(store, 'plant')), 'nothing was staged');
  await app.close();
});

t.test('manifest paths stay inside the store', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gmel-registry-paths-'));
  const store = join(root, 'store');
  const app = buildRegistryApp({ storeDir: store, token });
  const put = (v: string, file: string, body: Buffer) =>
    app.inject({ method: 'PUT', url: `/models/plant/${v}/${file}`, headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${token}` }, payload: body });
  // a file outside the store, named like a model: a token holder probes it through files[].ied
  const secret = Buffer.from('not a model, and not the registry\'s business');
  const outside = join(root, 'secret');
  writeFileSync(`${outside}.onnx`, secret);
  const manifest = JSON.parse(readFileSync(join(source, 'manifest.json'), 'utf8'));
  const model = readFileSync(join(source, 'ied-0.onnx'));
  t.equal((await put('probe', 'ied-0.onnx', model)).statusCode, 202);
  const probe = { ...manifest, version: 'probe', files: { 'ied-0.onnx': { ...manifest.files['ied-0.onnx'], ied: `/${'../'.repeat(20)}${outside.slice(1)}`, sha256: sha256(secret), bytes: secret.length } } };
  const traversal = await put('probe', 'manifest.json', Buffer.from(JSON.stringify(probe)));
  t.equal(traversal.statusCode, 400, 'files[].ied walking out of the store: 400');
  t.notMatch(traversal.body, sha256(secret).slice(0, 12), 'says nothing of the outside file');
  const renamed = { ...manifest, version: 'probe', files: { '../../secret.onnx': { ...manifest.files['ied-0.onnx'], ied: 0 } } };
  t.equal((await put('probe', 'manifest.json', Buffer.from(JSON.stringify(renamed)))).statusCode, 400, 'a file name that is not ied-<i>.onnx: 400');
  // a symlink planted in the store is not followed out of it
  const files = readdirSync(source).filter((f) => f.endsWith('.onnx'));
  for (const f of files) await put(version, f, readFileSync(join(source, f)));
  t.equal((await put(version, 'manifest.json', readFileSync(join(source, 'manifest.json')))).statusCode, 201);
  symlinkSync(`${outside}.onnx`, join(store, 'plant', version, 'ied-999.onnx'));
  const linked = await app.inject({ method: 'GET', url: `/models/plant/${version}/ied-999.onnx` });
  t.not(linked.statusCode, 200, `a symlink out of the store is not served (${linked.statusCode})`);
  t.notMatch(linked.body, 'not a model');
  await app.close();
});

t.test('uploads are capped per request (bodyLimit) and per store', async (t) => {
  const app = buildRegistryApp({ storeDir: mkdtempSync(join(tmpdir(), 'gmel-registry-caps-')), token, maxUploadBytes: 4096, maxStoreBytes: 10_000 });
  const put = (file: string, bytes: number, auth = `Bearer ${token}`) =>
    app.inject({ method: 'PUT', url: `/models/plant/v1/${file}`, headers: { 'content-type': 'application/octet-stream', authorization: auth }, payload: Buffer.alloc(bytes, 1) });
  t.equal((await put('ied-0.onnx', 5000)).statusCode, 413, 'over the per-request limit: 413');
  t.equal((await put('ied-0.onnx', 5000, '')).statusCode, 401, 'without a token: 401, whatever the size');
  t.equal((await put('ied-0.onnx', 4000)).statusCode, 202);
  t.equal((await put('ied-1.onnx', 4000)).statusCode, 202);
  const full = await put('ied-2.onnx', 4000);
  t.equal(full.statusCode, 413, 'over the store cap: 413');
  t.match(full.json().error, /store/);
  t.equal((await put('ied-1.onnx', 4000)).statusCode, 202, 'replacing a staged file counts only the difference');
  await app.close();
});
