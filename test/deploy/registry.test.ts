// The model registry: reads are open, writes need the bearer token, a version is published only when
// its manifest verifies, and published versions are immutable.
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRegistryApp } from '../../deploy/registry.ts';
import { resolveModelDir } from '../../core/model-set.ts';

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
