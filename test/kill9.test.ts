/**
 * kill -9 under concurrent load: registrations (SKEP with and without receipts), SDDP requests and
 * paid EDDP deliveries with acknowledgements run from several workers while the vendor process is
 * killed with SIGKILL four times and restarted on the same database. Whatever a client saw
 * acknowledged (a 201 it verified, a delivery it opened, an acknowledgement answered 200) must be
 * in the store afterwards, a request the vendor answered must stay a replay after every restart,
 * and the database must be whole: acknowledged and lost, 0.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { toHex } from '../src/crypto/bytes.ts';
import { sha256 } from '../src/crypto/hash.ts';
import { useCryptoProvider } from '../src/crypto/provider.ts';
import {
  ackRequest,
  challengeRequest,
  deliveryRequest,
  deliveryResponse,
  paywordSeed,
  readChallengeResponse,
  skepOnResponse,
  skepStart,
  stretchSecret,
  vendorSession,
  type HttpRequestMsg,
  type HttpResponseMsg,
  type VendorSession,
} from '../src/protocol/index.ts';
import { parseDiscovery, WELL_KNOWN } from '../src/protocol/discovery.ts';
import { resolveConfig } from '../src/server/config.ts';
import { nodeCryptoProvider } from '../src/server/node-crypto.ts';
import { fromRow } from '../src/server/records.ts';
import { toClient, type SqliteClientRow } from '../src/server/sqlite-store.ts';
import { FAST_ARGON2 } from './support/client.ts';
import { VendorProcess } from './support/fuzz.ts';
import { freePort } from './support/http-vendor.ts';
import { sendRaw } from './support/raw-http.ts';
import { testKeyMaterial } from './support/vendor-kit.ts';

useCryptoProvider(nodeCryptoProvider);

describe('kill -9 under concurrent load', () => {
  it('four SIGKILLs while registrations, deliveries and acknowledgements run: acknowledged and lost, 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'janus-kill9-'));
    const keys = await testKeyMaterial();
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, keys.privateKeyPem, { mode: 0o600 });
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const db = join(dir, 'vendor.db');
    const vendor = new VendorProcess('sdk', db, toHex(keys.kek), keyFile, port);
    await vendor.start();

    const exchange = async (m: HttpRequestMsg): Promise<HttpResponseMsg> => {
      const u = new URL(m.url);
      const headers: [string, string][] = [['Host', u.host], ...Object.entries(m.headers)];
      if (m.body.length || m.method !== 'GET') headers.push(['Content-Length', String(m.body.length)]);
      const a = await sendRaw(port, { method: m.method, target: u.pathname + u.search, headers, body: m.body }, 5000);
      return { status: a.status, headers: a.headers, body: a.body };
    };
    const now = () => Math.floor(Date.now() / 1000);
    const doc = parseDiscovery((await exchange({ method: 'GET', url: origin + WELL_KNOWN, headers: {}, body: new Uint8Array(0) })).body, origin);
    const { master } = await stretchSecret('kill9@example.org', 'kill9 secret', { params: FAST_ARGON2 });
    const session = (name: string) => vendorSession(master, `${name}@kill9.example`, origin, 0);

    const registered = new Map<string, VendorSession>(); // acknowledged: the client verified message 4
    const answered: HttpRequestMsg[] = []; // SDDP requests the client saw answered
    const paid: { s: VendorSession; sub: string; words: Uint8Array[]; delivered: number; acked: number }[] = [];
    let stop = false;
    let attempts = 0;

    const register = async (name: string, chain = 0): Promise<boolean> => {
      const s = session(name);
      attempts++;
      try {
        let { state, request } = await skepStart({ session: s, discovery: doc, data: { name }, now: now(), receipt: attempts % 2 === 0, ...(chain ? { chain } : {}) });
        for (let i = 0; i < 2; i++) {
          const next = await skepOnResponse(state, await exchange(request!), now());
          state = next.state;
          request = next.request!;
        }
        if (state.phase !== 'done') return false;
        registered.set(s.alias, s);
        if (chain) {
          const pw = state.result.payword!;
          const words = new Array<Uint8Array>(pw.n + 1);
          words[pw.n] = paywordSeed(s.k, pw.sub);
          for (let i = pw.n; i > 0; i--) words[i - 1] = sha256(words[i]!);
          paid.push({ s, sub: pw.sub, words, delivered: 0, acked: 0 });
        }
        return true;
      } catch {
        return false; // the vendor died under it: not acknowledged, so nothing is owed
      }
    };

    for (let i = 0; i < 2; i++) while (!(await register(`paid${i}`, 5000)));
    const base = [...registered.values()];

    const workers = [
      // Registrations.
      ...[0, 1].map((w) => async () => {
        for (let i = 0; !stop; i++) await register(`w${w}-${i}`);
      }),
      // SDDP from the first clients.
      ...[0, 1].map(() => async () => {
        while (!stop) {
          const s = base[Math.floor(Math.random() * base.length)]!;
          const { request, pending } = await deliveryRequest({ key: s, level: 'sddp', method: 'GET', url: origin + '/api/notes', now: now() });
          try {
            await deliveryResponse(pending, 'sddp', await exchange(request));
            answered.push(request);
          } catch {
            // refused or cut off: not answered
          }
        }
      }),
      // Paid deliveries with their acknowledgements, one worker per paid client.
      ...[0, 1].map((p) => async () => {
        while (!stop) {
          const c = paid[p]!;
          try {
            const challenge = readChallengeResponse(await exchange(challengeRequest(c.s.alias, origin + doc.challengePath))).challenge;
            const ack = c.delivered > c.acked ? { sub: c.sub, i: c.delivered, w: c.words[c.delivered]! } : undefined;
            const { request, pending } = await deliveryRequest({ key: c.s, level: 'eddp+receipts', method: 'GET', url: origin + '/api/paid/x', now: now(), challenge, ...(ack ? { ack } : {}) });
            const d = await deliveryResponse(pending, 'eddp+receipts', await exchange(request));
            if (ack) c.acked = ack.i;
            if (d.receipt) c.delivered = Math.max(c.delivered, d.receipt.i);
            if (d.receipt && !d.ackRequired && c.delivered % 3 === 0) {
              // Every third delivery is acknowledged at the ack endpoint instead.
              const res = await exchange(ackRequest(c.s.alias, origin + doc.ackPath, { sub: c.sub, i: c.delivered, w: c.words[c.delivered]! }));
              if (res.status === 200) c.acked = c.delivered;
            }
          } catch {
            // refused or cut off: nothing acknowledged; an answer lost after its commit is learned from the next 402
          }
        }
      }),
    ];
    const running = workers.map((w) => w());
    for (let k = 0; k < 4; k++) {
      await new Promise((r) => setTimeout(r, 600 + Math.floor(Math.random() * 600)));
      await vendor.kill9();
    }
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(running);

    // Every SDDP request answered before or between the kills is still a replay now.
    const sample = answered.filter((_, i) => i % Math.max(1, Math.floor(answered.length / 60)) === 0);
    for (const req of sample) expect((await exchange(req)).headers['janus-error']).toBe('replayed');
    await vendor.stop();
    expect(vendor.crashes).toBe(0);
    expect(vendor.errorLines).toEqual([]);

    const rk = resolveConfig({ origin, keys }).rk;
    const dbh = new Database(db, { readonly: true });
    expect(dbh.pragma('integrity_check', { simple: true })).toBe('ok');
    const rows = new Map(dbh.prepare<[], SqliteClientRow>('SELECT * FROM clients').all().map((r) => [r.alias, r]));
    dbh.close();
    let lost = 0;
    for (const [alias, s] of registered) {
      const r = rows.get(alias);
      if (!r) {
        lost++;
        continue;
      }
      // Whole, and the key the client holds: no half-written record.
      const rec = fromRow(rk, toClient(r));
      expect(toHex(rec.k)).toBe(toHex(s.k));
    }
    for (const c of paid) {
      const chain = JSON.parse(rows.get(c.s.alias)!.chain!) as { delivered: number; acked: number };
      expect([c.s.alias, chain.delivered >= c.delivered, chain.acked >= c.acked]).toEqual([c.s.alias, true, true]);
    }
    expect({ acknowledged: registered.size > 20, lost, answered: answered.length > 100, paidDelivered: paid.every((c) => c.delivered > 5) }).toEqual({ acknowledged: true, lost: 0, answered: true, paidDelivered: true });
  });
});
