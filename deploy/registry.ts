/**
 * The model registry: serves model sets (and their files) to gateways and the twin; writes need a
 * bearer token. A fastify app factory, tested with inject.
 *
 * | route                                   | auth   | does                                                 |
 * |-----------------------------------------|--------|------------------------------------------------------|
 * | GET  /models                            | —      | every model set and its versions                     |
 * | GET  /models/:set/:version/:file        | —      | a file of a version (manifest.json, ied-<i>.onnx)    |
 * | PUT  /models/:set/:version/:file        | bearer | upload a file; a manifest.json is accepted only once |
 * |                                         |        | every file it lists is present and matches its sha256|
 *
 * Hardening (deploy/README.md, "Security"):
 * - the token is checked in an onRequest hook, before fastify reads a byte of the body: a request
 *   without it is answered 401 and its connection closed, whatever it announces;
 * - uploads are capped per request (`maxUploadBytes`, the bodyLimit, MAX_UPLOAD_BYTES by default: 413
 *   from the announced content-length, before reading) and per store (`maxStoreBytes`, staged and
 *   published files together, MAX_STORE_BYTES by default: 413);
 * - names are checked against a strict pattern, every path is resolved and confined to the store
 *   (symlinks out of it are not followed), and a manifest may list only `ied-<i>.onnx` files of its own
 *   staging folder (deploy/registry-store.ts): 400 otherwise.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readManifest, verifyModelSet } from '../core/model-set.ts';
import { InputError } from '../core/errors.ts';
import { MAX_STORE_BYTES, MAX_UPLOAD_BYTES, checkManifestPaths, confinedPath, fileBytes, storeBytes } from './registry-store.ts';

export { MAX_STORE_BYTES, MAX_UPLOAD_BYTES } from './registry-store.ts';

export interface RegistryOptions {
  /** folder holding model sets as models/NAME/<version>/… */
  readonly storeDir: string;
  /** bearer token required for writes */
  readonly token: string;
  /** largest upload, bytes (default MAX_UPLOAD_BYTES) */
  readonly maxUploadBytes?: number;
  /** largest store, staged uploads included, bytes (default MAX_STORE_BYTES) */
  readonly maxStoreBytes?: number;
}

const NAME = /^[A-Za-z0-9][\w.-]{0,127}$/;
type FileParams = { set: string; version: string; file: string };

function authorized(req: FastifyRequest, token: string): boolean {
  const header = req.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** Refuse now, and close the connection rather than read (and discard) a body nobody will use. */
function refuse(reply: FastifyReply, code: number, error: string): FastifyReply {
  return reply.code(code).header('connection', 'close').send({ error });
}

export function buildRegistryApp(o: RegistryOptions): FastifyInstance {
  if (o.token.length < 16) throw new InputError('the registry token must be at least 16 characters');
  const maxUpload = o.maxUploadBytes ?? MAX_UPLOAD_BYTES;
  const maxStore = o.maxStoreBytes ?? MAX_STORE_BYTES;
  const app = Fastify({ logger: false, bodyLimit: maxUpload });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  const store = o.storeDir;
  mkdirSync(store, { recursive: true });
  /** bytes the store would hold with `incoming` bytes written at `path` (replacing what is there) */
  const storeAfter = (path: string, incoming: number) => storeBytes(store) - fileBytes(path) + incoming;

  // every write: the token before the body is read; an announced size over the store cap before it is read
  app.addHook('onRequest', async (req, reply) => {
    if (req.method === 'GET' || req.method === 'HEAD') return;
    if (!authorized(req, o.token)) return refuse(reply, 401, 'a bearer token is required to write');
    const announced = Number(req.headers['content-length'] ?? 0);
    const { set, version, file } = (req.params ?? {}) as Partial<FileParams>;
    if (announced > 0 && announced <= maxUpload && set && version && file && [set, version, file].every((n) => NAME.test(n))) {
      try {
        if (storeAfter(confinedPath(store, set, version, '.staging', file), announced) > maxStore) return refuse(reply, 413, `the store is full (cap ${maxStore} bytes)`);
      } catch (err) {
        return refuse(reply, 400, (err as Error).message);
      }
    }
    return undefined;
  });

  registerReads(app, store);

  app.put<{ Params: FileParams; Body: Buffer }>('/models/:set/:version/:file', async (req, reply) => {
    const { set, version, file } = req.params;
    if (![set, version, file].every((n) => NAME.test(n))) return reply.code(400).send({ error: 'bad name' });
    if (!Buffer.isBuffer(req.body) || req.body.length === 0) return reply.code(400).send({ error: 'empty body (send application/octet-stream)' });
    let dir: string, staging: string, target: string;
    try {
      dir = confinedPath(store, set, version);
      staging = confinedPath(store, set, version, '.staging');
      target = confinedPath(store, set, version, '.staging', file);
    } catch (err) {
      return reply.code(400).send({ error: (err as Error).message });
    }
    if (existsSync(join(dir, 'manifest.json'))) return reply.code(409).send({ error: `${set}/${version} is published and immutable` });
    if (storeAfter(target, req.body.length) > maxStore) return reply.code(413).send({ error: `the store is full (cap ${maxStore} bytes)` });
    mkdirSync(staging, { recursive: true });
    writeFileSync(target, req.body);
    if (file !== 'manifest.json') return reply.code(202).send({ staged: file });
    // the manifest publishes the version: every file it lists must be one of its own, there, and match
    try {
      checkManifestPaths(readManifest(staging), staging, maxUpload);
    } catch (err) {
      return reply.code(400).send({ error: (err as Error).message });
    }
    try {
      const manifest = verifyModelSet(staging);
      for (const [name, entry] of Object.entries(manifest.files))
        if (fileBytes(join(staging, name)) !== entry.bytes) throw new InputError(`${name} has ${fileBytes(join(staging, name))} bytes, the manifest says ${entry.bytes}`);
    } catch (err) {
      return reply.code(422).send({ error: (err as Error).message });
    }
    for (const f of readdirSync(staging)) renameSync(join(staging, f), join(dir, f));
    return reply.code(201).send({ published: `${set}/${version}` });
  });
  return app;
}

/** The reads (no token): the list of published versions, and their files, never a path out of the store. */
function registerReads(app: FastifyInstance, store: string): void {
  app.get('/models', async () => {
    const within = (...parts: string[]) => {
      try {
        return existsSync(confinedPath(store, ...parts));
      } catch {
        return false; // a symlink out of the store: not listed
      }
    };
    const sets = readdirSync(store).filter((s) => NAME.test(s) && within(s));
    return Object.fromEntries(sets.map((s) => [s, readdirSync(join(store, s)).filter((v) => NAME.test(v) && within(s, v, 'manifest.json')).sort()]));
  });

  app.get<{ Params: FileParams }>('/models/:set/:version/:file', async (req, reply) => {
    const { set, version, file } = req.params;
    if (![set, version, file].every((n) => NAME.test(n))) return reply.code(400).send({ error: 'bad name' });
    let path: string;
    try {
      path = confinedPath(store, set, version, file);
      confinedPath(store, set, version, 'manifest.json');
    } catch {
      return reply.code(404).send({ error: `no ${set}/${version}/${file}` });
    }
    if (!existsSync(join(store, set, version, 'manifest.json')) || fileBytes(path) === 0) return reply.code(404).send({ error: `no ${set}/${version}/${file}` });
    return reply.type(file.endsWith('.json') ? 'application/json' : 'application/octet-stream').send(readFileSync(path));
  });

}
