/** The Express adapter over real HTTP: Janus routes answered by the SDK, the app's own routes untouched. */
import express from 'express';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utf8 } from '../crypto/bytes.ts';
import { makeCredential, type Discovery, type VendorSession } from '../protocol/index.ts';
import { deliver, discover, register, sessionFor, type Peer } from '../../test/support/client.ts';
import { freePort } from '../../test/support/http-vendor.ts';
import { httpPeer, testKeyMaterial } from '../../test/support/vendor-kit.ts';
import { createVendor, type JanusVendor } from './core.ts';
import { janusExpress } from './express.ts';
import { SqliteStore } from './sqlite-store.ts';

let server: Server;
let vendor: JanusVendor;
let origin: string;
let peer: Peer;
let doc: Discovery;
let alice: VendorSession;
const now = Math.floor(Date.now() / 1000);

beforeAll(async () => {
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  vendor = createVendor({
    config: { origin, keys: await testKeyMaterial() },
    store: new SqliteStore(':memory:'),
    routes: [
      { path: '/api/notes', level: 'sddp', methods: ['POST'], handler: (ctx) => ({ saved: ctx.json(), type: ctx.contentType }) },
      { path: '/', level: 'credential' },
    ],
  });
  const app = express();
  app.use(janusExpress(vendor));
  app.use(express.json());
  app.get('/', (req, res) => {
    res.send(req.janusClient ? `welcome back ${req.janusClient.alias}` : 'hello visitor');
  });
  app.post('/plain', (req, res) => {
    res.json({ echo: req.body as unknown });
  });
  server = app.listen(port, '127.0.0.1');
  await new Promise<void>((ok) => server.once('listening', () => ok()));
  peer = httpPeer(origin);
  doc = await discover(peer, origin);
  alice = await sessionFor('alice@example.org', 'alice secret', origin);
  await register(peer, alice, doc, { now });
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((ok) => server.close(() => ok()));
  await vendor.close();
});

describe('Express adapter', () => {
  it('runs SDDP with an encrypted body through Express', async () => {
    const d = await deliver(peer, alice, 'sddp', '/api/notes', { now, method: 'POST', body: utf8('{"note":"buy LU"}') });
    expect(d.json).toEqual({ saved: { note: 'buy LU' }, type: 'application/json' });
  });

  it('greets by slot credential and leaves the body of other routes to the app', async () => {
    const hello = await fetch(origin + '/', { headers: { 'janus-credential': makeCredential(alice, origin, now).value } });
    expect(await hello.text()).toBe(`welcome back ${alice.alias}`);
    expect(await (await fetch(origin + '/')).text()).toBe('hello visitor');
    const plain = await fetch(origin + '/plain', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"x":1}' });
    expect(await plain.json()).toEqual({ echo: { x: 1 } });
  });

  it('refuses an unsigned protected request with its code', async () => {
    const res = await fetch(origin + '/api/notes', { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
    expect(res.headers.get('janus-error')).toBe('missing_signature');
  });
});
