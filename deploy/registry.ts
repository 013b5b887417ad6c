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
 * Names are checked against a strict pattern, so no path leaves the store.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyModelSet } from '../core/model-set.ts';
import { InputError } from '../core/errors.ts';

export interface RegistryOptions {
  /** folder holding model sets as models/NAME/<version>/… */
  readonly storeDir: string;
  /** bearer token required for writes */
  readonly token: string;
  /** largest upload, bytes */
  readonly maxUploadBytes?: number;
}

const NAME = /^[A-Za-z0-9][\w.-]{0,127}$/;

function authorized(req: FastifyRequest, token: string): boolean {
  const header = req.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

export function buildRegistryApp(o: RegistryOptions): FastifyInstance {
  if (o.token.length < 16) throw new InputError('the registry token must be at least 16 characters');
  const app = Fastify({ logger: false, bodyLimit: o.maxUploadBytes ?? 64 * 1024 * 1024 });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  const store = o.storeDir;
  mkdirSync(store, { recursive: true });

  app.get('/models', async () => {
    const sets = readdirSync(store).filter((s) => NAME.test(s));
    return Object.fromEntries(sets.map((s) => [s, readdirSync(join(store, s)).filter((v) => existsSync(join(store, s, v, 'manifest.json'))).sort()]));
  });

  app.get<{ Params: { set: string; version: string; file: string } }>('/models/:set/:version/:file', async (req, reply) => {
    const { set, version, file } = req.params;
    if (![set, version, file].every((n) => NAME.test(n))) return reply.code(400).send({ error: 'bad name' });
    const path = join(store, set, version, file);
    if (!existsSync(join(store, set, version, 'manifest.json')) || !existsSync(path)) return reply.code(404).send({ error: `no ${set}/${version}/${file}` });
    return reply.type(file.endsWith('.json') ? 'application/json' : 'application/octet-stream').send(readFileSync(path));
  });

  app.put<{ Params: { set: string; version: string; file: string }; Body: Buffer }>('/models/:set/:version/:file', async (req, reply) => {
    if (!authorized(req, o.token)) return reply.code(401).send({ error: 'a bearer token is required to write' });
    const { set, version, file } = req.params;
    if (![set, version, file].every((n) => NAME.test(n))) return reply.code(400).send({ error: 'bad name' });
    if (!Buffer.isBuffer(req.body) || req.body.length === 0) return reply.code(400).send({ error: 'empty body (send application/octet-stream)' });
    const dir = join(store, set, version);
    if (existsSync(join(dir, 'manifest.json'))) return reply.code(409).send({ error: `${set}/${version} is published and immutable` });
    const staging = join(dir, '.staging');
    mkdirSync(staging, { recursive: true });
    writeFileSync(join(staging, file), req.body);
    if (file !== 'manifest.json') return reply.code(202).send({ staged: file });
    // the manifest publishes the version: every file it lists must be there and match
    try {
      verifyModelSet(staging);
    } catch (err) {
      return reply.code(422).send({ error: (err as Error).message });
    }
    for (const f of readdirSync(staging)) renameSync(join(staging, f), join(dir, f));
    return reply.code(201).send({ published: `${set}/${version}` });
  });
  return app;
}
