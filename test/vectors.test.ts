/**
 * The checked-in vectors (test/vectors/*.json, docs/PROTOCOL.md §16) reproduced byte for byte:
 * derivations directly, and every protocol message by the side that produces it, from the recorded
 * messages it receives. Randomized values (RSA-OAEP, RSA-PSS) are checked by decryption/verification.
 */
import { createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { b64u, fromHex, fromUtf8, toHex, utf8 } from '../src/crypto/bytes.ts';
import { oaepDecrypt } from '../src/crypto/rsa.ts';
import {
  applyAck,
  buildDiscovery,
  canonicalClientId,
  checkChallenge,
  deliveryRequest,
  deliveryResponse,
  formatAck,
  issueChallenge,
  JanusError,
  makeCredential,
  masterSalt,
  openDelivery,
  parseAck,
  parseReceiptHeader,
  parseCredential,
  parseDelivery,
  parseDiscovery,
  parseRotate,
  parseSkepConfirm,
  parseSkepHello,
  paywordSeed,
  paywordWord,
  rotateOnResponse,
  rotateStart,
  sealAckRequired,
  sealDelivery,
  skepOaepLabel,
  skepOnResponse,
  skepStart,
  skepVendorConfirm,
  skepVendorHello,
  slotKey,
  slotOf,
  stretchSecret,
  vendorAlias,
  vendorIdentity,
  vendorKey,
  vendorRotate,
  verifySecureRequest,
  verifyCredential,
  verifyReceipt,
  type ClientRecord,
  type DeliveryLevel,
  type HttpResponseMsg,
  type VendorKeys,
} from '../src/protocol/index.ts';
import { fromWireReq, fromWireRes, VECTOR_POLICY, type WireReq, type WireRes } from './vectors/support.ts';
import { codeOf } from './support/errors.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
const load = (f: string): any => JSON.parse(readFileSync(new URL(`./vectors/${f}`, import.meta.url), 'utf8'));
const janus = load('janus.json');
const slot = load('slot.json');
const skep = load('skep.json');
const sddp = load('sddp.json');
const eddp = load('eddp.json');
const payword = load('payword.json');
const rotate = load('rotate.json');


const vendor = skep.vendor;
const vk: VendorKeys = {
  idV: vendor.id_v,
  spki: fromHex(vendor.spki),
  pkcs8: fromHex(vendor.pkcs8),
  tk: fromHex(vendor.tk),
  ck: fromHex(vendor.ck),
  window: vendor.window,
  receipt: vendor.receipt,
};
const discovery = parseDiscovery(
  utf8(JSON.stringify(buildDiscovery({ origin: vk.idV, spki: b64u.encode(vk.spki), fingerprint: vendor.fingerprint, routes: [] }))),
  vk.idV,
);

const expectRes = (got: HttpResponseMsg, want: WireRes) => {
  expect(got.status).toBe(want.status);
  expect(got.headers).toEqual(want.headers);
  expect(toHex(got.body)).toBe(want.body);
};
const expectReq = (got: { method: string; url: string; headers: Record<string, string>; body: Uint8Array }, want: WireReq) => {
  expect(got.method).toBe(want.method);
  expect(got.url).toBe(want.url);
  expect(got.headers).toEqual(want.headers);
  expect(toHex(got.body)).toBe(want.body);
};

describe('janus.json (§3)', () => {
  it('canonical identities and vendor identities', () => {
    for (const v of janus.identities) expect(canonicalClientId(v.input)).toBe(v.id_c);
    for (const v of janus.invalid_identities) expect(codeOf(() => canonicalClientId(v.input))).toBe(v.error);
    for (const v of janus.vendor_ids) expect(vendorIdentity(v.url)).toBe(v.id_v);
    for (const v of janus.invalid_vendor_ids) expect(codeOf(() => vendorIdentity(v.url))).toBe(v.error);
  });

  it('Argon2id masters, including the real parameters', async () => {
    for (const v of janus.masters) {
      const { idC, master } = await stretchSecret(v.identity, v.secret, { params: v.params });
      expect(idC).toBe(v.id_c);
      expect(toHex(masterSalt(idC))).toBe(v.salt);
      expect(toHex(master)).toBe(v.master);
    }
  });

  it('vendor keys and aliases', () => {
    for (const v of janus.vendor_keys) {
      expect(toHex(vendorKey(fromHex(v.master), v.id_c, v.id_v, v.gen).k)).toBe(v.k);
      expect(vendorAlias(fromHex(v.master), v.id_c, v.id_v)).toBe(v.alias);
    }
  });
});

describe('slot.json (§4, §10)', () => {
  it('slots, slot keys and credentials', () => {
    for (const v of slot.slots) expect(slotOf(v.time)).toBe(v.n);
    for (const v of slot.slot_keys) {
      const s = slotKey(fromHex(v.k), v.n);
      expect([toHex(s.ke), toHex(s.km)]).toEqual([v.ke, v.km]);
    }
    for (const v of slot.credentials) {
      const key = { alias: v.alias, gen: v.gen, k: fromHex(v.k) };
      expect(makeCredential(key, v.id_v, v.time).value).toBe(v.value);
      verifyCredential(parseCredential(v.value, v.time, 1), key.k, v.id_v);
    }
    const c = slot.client;
    for (const v of slot.invalid_credentials) {
      expect(codeOf(() => verifyCredential(parseCredential(v.value, v.now, v.window), fromHex(c.k), c.id_v))).toBe(v.error);
    }
  });
});

/** Client records built by replaying the SKEP vectors through the vendor functions. */
async function replaySkep(): Promise<Map<string, ClientRecord>> {
  const records = new Map<string, ClientRecord>();
  for (const run of skep.runs) {
    const f = run.fixed;
    const m3 = fromWireReq(run.messages.m3);
    const out = await skepVendorConfirm(vk, m3, parseSkepConfirm(vk, m3, run.now), null, VECTOR_POLICY, run.now, { bodyIv: fromHex(f.body_iv4) });
    records.set(out.record.alias, out.record);
  }
  return records;
}

describe('skep.json (§7, §12)', () => {
  for (const run of skep.runs as any[]) {
    it(run.name, async () => {
      const f = run.fixed;
      const session = { idV: vk.idV, alias: run.client.alias, gen: run.client.gen, k: fromHex(run.client.k) };
      // The client's key and alias come from its identity and secret.
      const { idC, master } = await stretchSecret(run.client.identity, run.client.secret, { params: run.client.params });
      expect(toHex(vendorKey(master, idC, vk.idV, 0).k)).toBe(run.client.k);
      // m1: the RSA-OAEP ciphertext decrypts to the recorded plaintext under the recorded label.
      const m1 = fromWireReq(run.messages.m1);
      const hello = parseSkepHello(m1);
      expect(fromUtf8(skepOaepLabel(vk.idV))).toBe(run.oaep_label);
      expect(toHex(await oaepDecrypt(vk.pkcs8, hello.ek, skepOaepLabel(vk.idV)))).toBe(run.oaep_plaintext);
      // m2 from m1 (vendor).
      const m2 = await skepVendorHello(vk, m1, hello, null, run.now, { iv: fromHex(f.token_iv), r: fromHex(f.token_r), bodyIv: fromHex(f.body_iv2) });
      expectRes(m2, run.messages.m2);
      // m3 from m2 (client).
      const start = await skepStart({
        session,
        discovery,
        data: run.data,
        now: run.now,
        receipt: run.receipt_requested,
        ...(run.chain ? { chain: run.chain } : {}),
        fixed: { nC: fromHex(f.n_c), nC3: fromHex(f.n_c3), bodyIv3: fromHex(f.body_iv3), sub: f.sub },
      });
      const s2 = await skepOnResponse(start.state, fromWireRes(run.messages.m2), run.now);
      expectReq(s2.request!, run.messages.m3);
      // m4 from m3 (vendor); with a receipt m4 holds an RSA-PSS signature, so it is verified instead.
      const m3 = fromWireReq(run.messages.m3);
      const out = await skepVendorConfirm(vk, m3, parseSkepConfirm(vk, m3, run.now), null, VECTOR_POLICY, run.now, { bodyIv: fromHex(f.body_iv4) });
      if (!run.receipt_requested) expectRes(out.response, run.messages.m4);
      else expect(out.record.receipt).not.toBeNull();
      const s4 = await skepOnResponse(s2.state, fromWireRes(run.messages.m4), run.now);
      expect(s4.state.phase).toBe('done');
      if (s4.state.phase === 'done') {
        expect(JSON.parse(JSON.stringify(s4.state.result))).toEqual(run.result);
        if (run.receipt_requested) {
          const p = await verifyReceipt(s4.state.result.receipt!, vk.spki);
          expect(p.payword!.w0).toBe(b64u.encode(paywordWord(session.k, f.sub, run.chain, 0)));
        }
      }
    });
  }
});

async function checkDeliveries(file: any, records: Map<string, ClientRecord>): Promise<void> {
  for (const run of file.runs) {
    const level = run.level as DeliveryLevel;
    const key = { alias: run.alias, gen: run.gen, k: fromHex(run.k) };
    const want = fromWireReq(run.request);
    const ackHeader = want.headers['janus-ack'];
    const { request, pending } = await deliveryRequest({
      key,
      level,
      method: want.method,
      url: want.url,
      now: run.now,
      nonce: fromHex(run.fixed.nonce),
      bodyIv: fromHex(run.fixed.body_iv),
      ...(want.headers['janus-challenge'] ? { challenge: want.headers['janus-challenge'] } : {}),
      ...(run.request_plaintext ? { body: utf8(run.request_plaintext), contentType: 'application/json' } : {}),
      ...(ackHeader ? { ack: parseAck(ackHeader) } : {}),
    });
    expectReq(request, run.request);
    const d = parseDelivery(vk, want, level, run.now);
    const opened = await openDelivery(vk, d, want, records.get(run.alias)!, run.now);
    expect(fromUtf8(opened.plaintext)).toBe(run.request_plaintext);
    const fixed = { bodyIv: fromHex(run.fixed.response_iv), r: fromHex(run.fixed.next_challenge_r) };
    // A run whose response is 402 is the sealed ack_required (§11.2): nothing is stored.
    expect(opened.ackRequired).toBe(run.response.status === 402);
    const res = opened.ackRequired
      ? await sealAckRequired(vk, d, want, opened, run.now, fixed)
      : await sealDelivery(vk, d, want, opened, { status: run.response.status, contentType: run.response.headers['content-type'], body: utf8(run.response_plaintext) }, run.now, fixed);
    expectRes(res, run.response);
    if (!opened.ackRequired) records.set(run.alias, opened.record);
    const delivered = await deliveryResponse(pending, level, fromWireRes(run.response));
    expect(fromUtf8(delivered.body)).toBe(run.response_plaintext);
    expect(delivered.ackRequired).toBe(run.response.status === 402);
    if (level === 'eddp+receipts') expect(delivered.receipt).toEqual(parseReceiptHeader(run.response.headers['janus-receipt']));
  }
}

async function vendorAnswer(req: ReturnType<typeof fromWireReq>, level: DeliveryLevel, records: Map<string, ClientRecord>, now: number): Promise<string> {
  try {
    const d = parseDelivery(vk, req, level, now);
    await openDelivery(vk, d, req, records.get(d.parsed.alias) ?? null, now);
    return 'no error';
  } catch (e) {
    if (e instanceof JanusError) return e.code;
    throw e;
  }
}

/** Each mutated request of a vector file gets the error code it records. */
async function checkInvalid(file: any, level: DeliveryLevel): Promise<void> {
  const records = await replaySkep();
  const now = file.runs[0].now;
  for (const v of file.invalid) expect(`${v.name}: ${await vendorAnswer(fromWireReq(v.request), level, records, now)}`).toBe(`${v.name}: ${v.error}`);
}

/**
 * §6.4 as written, without the implementation: the body of a recorded request opens with AES-256-GCM
 * (node:crypto) under K_n^e and the additional data spelled out here from the spec's text.
 */
function openRequestBodyBySpec(k: Uint8Array, req: WireReq): string {
  const input = req.headers['signature-input']!;
  const param = (name: string) => new RegExp(`;${name}="([^"]*)"`).exec(input)![1]!;
  const keyid = param('keyid');
  const aad = `janus/1 request\ntag: ${param('tag')}\nkeyid: ${keyid}\nnonce: ${param('nonce')}\ncontent-type: ${req.headers['content-type']}`;
  const body = fromHex(req.body);
  const d = createDecipheriv('aes-256-gcm', slotKey(k, Number(keyid.split('.')[2])).ke, body.subarray(0, 12));
  d.setAAD(utf8(aad));
  d.setAuthTag(body.subarray(body.length - 16));
  return Buffer.concat([d.update(body.subarray(12, body.length - 16)), d.final()]).toString('utf8');
}

describe('§6.4 request bodies, from the spec text alone', () => {
  it('every recorded request body opens under A_req with its Content-Type', () => {
    let n = 0;
    for (const run of sddp.runs.filter((r: any) => r.request_plaintext)) {
      expect(openRequestBodyBySpec(fromHex(run.k), run.request)).toBe(run.request_plaintext);
      n++;
    }
    for (const run of skep.runs) {
      expect(JSON.parse(openRequestBodyBySpec(fromHex(run.client.k), run.messages.m3))).toHaveProperty('data');
      n++;
    }
    for (const run of rotate.runs) {
      expect(JSON.parse(openRequestBodyBySpec(fromHex(run.old.k), run.request))).toMatchObject({ alias: run.next.alias, gen: run.next.gen });
      n++;
    }
    expect(n).toBe(5);
    // The same body under another Content-Type does not open.
    const run = sddp.runs.find((r: any) => r.request_plaintext);
    expect(() => openRequestBodyBySpec(fromHex(run.k), { ...run.request, headers: { ...run.request.headers, 'content-type': 'text/plain' } })).toThrow();
  });
});

describe('sddp.json (§6, §8)', () => {
  it('requests and responses, both sides', async () => {
    await checkDeliveries(sddp, await replaySkep());
  });
  it('invalid requests get their error codes', () => checkInvalid(sddp, 'sddp'));
});

describe('eddp.json (§9, §11)', () => {
  it('challenges', () => {
    for (const c of eddp.challenges) {
      expect(issueChallenge(vk.ck, vk.idV, c.alias, c.now, fromHex(c.r))).toEqual({ challenge: c.challenge, expires: c.expires });
      checkChallenge(vk.ck, vk.idV, c.alias, c.challenge, c.now);
    }
    for (const c of eddp.invalid_challenges) expect(codeOf(() => checkChallenge(vk.ck, vk.idV, c.alias, c.challenge, c.now))).toBe(c.error);
  });
  it('EDDP, piggybacked challenges and eddp+receipts, both sides', async () => {
    await checkDeliveries(eddp, await replaySkep());
  });
  it('invalid requests get their error codes', () => checkInvalid(eddp, 'eddp'));
});

describe('payword.json (§11)', () => {
  it('seeds, chains, acks', () => {
    for (const c of payword.chains) {
      const k = fromHex(c.k);
      expect(toHex(paywordSeed(k, c.sub))).toBe(c.seed);
      expect(c.words.map((_: string, i: number) => toHex(paywordWord(k, c.sub, c.n, i)))).toEqual(c.words);
      expect(c.words[c.n]).toBe(c.seed);
    }
    const c = payword.chains[1];
    for (const a of payword.acks) expect(formatAck({ sub: a.sub, i: a.i, w: fromHex(c.words[a.i]) })).toBe(a.header);
    for (const a of payword.invalid_acks) {
      const chain = { sub: c.sub, n: c.n, w0: b64u.encode(fromHex(a.w0)), delivered: a.delivered, acked: a.acked, ackedW: b64u.encode(fromHex(a.w0)) };
      expect(codeOf(() => applyAck(chain, parseAck(a.header)))).toBe(a.error);
    }
  });
});

describe('rotate.json (§13)', () => {
  for (const run of rotate.runs as any[]) {
    it(run.name, async () => {
      const records = await replaySkep();
      const record = records.get(run.old.alias)!;
      const req = fromWireReq(run.request);
      // Inside the old-key-encrypted body, the RSA-OAEP ciphertext carries the new key.
      const body = await verifySecureRequest(parseRotate(vk, req, run.now), req, record.k, { window: vk.window });
      const ek = b64u.decode(JSON.parse(fromUtf8(body.plaintext)).ek);
      expect(toHex(await oaepDecrypt(vk.pkcs8, ek, utf8(`janus/1 rotate ${vk.idV}`)))).toBe(run.oaep_plaintext);
      const out = await vendorRotate(vk, parseRotate(vk, req, run.now), req, record, run.now, { bodyIv: fromHex(run.fixed.response_iv) });
      expectRes(out.response, run.response);
      expect(out.record.alias).toBe(run.next.alias);
      const old = { idV: vk.idV, alias: run.old.alias, gen: run.old.gen, k: fromHex(run.old.k) };
      const next = { idV: vk.idV, alias: run.next.alias, gen: run.next.gen, k: fromHex(run.next.k) };
      const { state } = await rotateStart({ old, next, discovery, now: run.now, fixed: { nonce: fromHex(run.fixed.nonce), bodyIv: fromHex(run.fixed.body_iv) } });
      const done = await rotateOnResponse(state, fromWireRes(run.response));
      expect(done).toMatchObject({ alias: run.next.alias, gen: run.next.gen });
    });
  }
});
