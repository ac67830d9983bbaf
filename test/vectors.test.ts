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
import { sha256 } from '../src/crypto/hash.ts';
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
  RouteTable,
  canonicalPath,
  countDelivery,
  sealDelivery,
  sealDeliveryError,
  sealRefusal,
  splitTarget,
  vendorSession,
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
  vendorRotateVerify,
  verifySecureRequest,
  ERRORS,
  verifyCredential,
  verifyReceipt,
  type ChainState,
  type ClientRecord,
  type DeliveryLevel,
  type HttpResponseMsg,
  type VendorKeys,
} from '../src/protocol/index.ts';
import { fromWireReq, fromWireRes, routeVerdictVector, VECTOR_POLICY, type WireReq, type WireRes } from './vectors/support.ts';
import { parseVectors, type ChainVector, type EddpVectors, type RecordVector, type SddpVectors, type VectorFile } from './vectors/types.ts';
import { codeOf } from './support/errors.ts';

const load = <F extends VectorFile>(f: F) => parseVectors(f, readFileSync(new URL(`./vectors/${f}`, import.meta.url), 'utf8'));
const janus = load('janus.json');
const slot = load('slot.json');
const skep = load('skep.json');
const sddp = load('sddp.json');
const eddp = load('eddp.json');
const payword = load('payword.json');
const rotate = load('rotate.json');
const routes = load('routes.json');


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

/** A message body as the JSON object the test expects it to be (its own reading, not the implementation's). */
const jsonBody = <T extends object = Record<string, unknown>>(bytes: Uint8Array): T => JSON.parse(fromUtf8(bytes)) as T;

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
  for (const run of skep.runs) {
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

/** The vendor's answer to a signed request given its records and the one-time values it recorded; stores nothing. */
async function vendorAnswer(req: ReturnType<typeof fromWireReq>, level: DeliveryLevel, records: Map<string, ClientRecord>, now: number, used: Set<string> = new Set()): Promise<string> {
  try {
    const d = parseDelivery(vk, req, level, now);
    const opened = await openDelivery(vk, d, req, records.get(d.parsed.alias) ?? null, now);
    // §6.2 step 11: the one-time values come after the acknowledgement.
    if (opened.useOnce.some((u) => used.has(u.key))) return 'replayed';
    return 'no error';
  } catch (e) {
    if (e instanceof JanusError) return e.code;
    throw e;
  }
}

const chainJson = (c: ChainState): ChainVector => ({ sub: c.sub, n: c.n, w0: c.w0, delivered: c.delivered, acked: c.acked, acked_w: c.ackedW });
const chainOf = (c: ChainState | null): ChainVector | null => (c ? chainJson(c) : null);
const chainState = (c: ChainVector): ChainState => ({ sub: c.sub, n: c.n, w0: c.w0, delivered: c.delivered, acked: c.acked, ackedW: c.acked_w });

/**
 * Runs in order, both sides, each reproduced byte for byte; after each, the `refused` requests
 * that follow it get their error and change nothing.
 */
async function checkDeliveries(file: SddpVectors | EddpVectors, records: Map<string, ClientRecord>): Promise<void> {
  const refused = 'refused' in file ? file.refused : [];
  const used = new Set<string>();
  const pendings = new Map<string, Awaited<ReturnType<typeof deliveryRequest>>['pending']>();
  for (const run of file.runs) {
    const level = run.level;
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
    pendings.set(run.name, pending);
    const d = parseDelivery(vk, want, level, run.now);
    const opened = await openDelivery(vk, d, want, records.get(run.alias)!, run.now);
    expect(fromUtf8(opened.plaintext)).toBe(run.request_plaintext);
    expect(opened.useOnce.some((u) => used.has(u.key)), `${run.name}: replayed`).toBe(false);
    for (const u of opened.useOnce) used.add(u.key);
    // §11.2: recorded with its acknowledgement; every answer from here on is sealed.
    records.set(run.alias, opened.record);
    const fixed = { bodyIv: fromHex(run.fixed.response_iv), r: fromHex(run.fixed.next_challenge_r) };
    let res: HttpResponseMsg;
    if (opened.rule !== 'deliver') {
      res = await sealRefusal(vk, d, want, opened, run.now, fixed);
    } else if (run.application_error) {
      res = await sealDeliveryError(vk, d, want, opened, new JanusError(run.application_error.code, run.application_error.message), run.now, fixed);
    } else {
      const status = run.response.status;
      let delivery = null;
      if (level === 'eddp+receipts' && status >= 200 && status <= 299) {
        const counted = countDelivery(opened.record, run.now);
        records.set(run.alias, counted.record);
        delivery = counted.mark;
      }
      res = await sealDelivery(vk, d, want, opened, { status, contentType: run.response.headers['content-type']!, body: utf8(run.response_plaintext), delivery }, run.now, fixed);
    }
    expectRes(res, run.response);
    if (run.chain_after !== undefined) expect(chainOf(records.get(run.alias)!.chain)).toEqual(run.chain_after);
    const delivered = await deliveryResponse(pending, level, fromWireRes(run.response));
    expect(fromUtf8(delivered.body)).toBe(run.response_plaintext);
    expect(delivered.error).toBe(run.response.headers['janus-error'] ?? null);
    expect(delivered.ackRequired).toBe(run.response.headers['janus-error'] === 'ack_required');
    const mark = run.response.headers['janus-receipt'];
    expect(delivered.receipt).toEqual(mark ? parseReceiptHeader(mark) : null);
    for (const r of refused.filter((x) => x.after === run.name)) {
      const before = JSON.stringify([...records.values()].map((x) => chainOf(x.chain)));
      expect(`${r.name}: ${await vendorAnswer(fromWireReq(r.request), r.level, records, run.now, used)}`).toBe(`${r.name}: ${r.error}`);
      expect(JSON.stringify([...records.values()].map((x) => chainOf(x.chain)))).toBe(before);
    }
  }
  const checked = new Set(file.runs.map((r) => r.name));
  for (const r of refused) expect(checked.has(r.after), `${r.name} follows ${r.after}`).toBe(true);
  // The client refuses answers that open under its request's key but break §6.3 or §11.2.
  for (const v of file.invalid_responses) {
    const run = file.runs.find((x) => x.name === v.answers);
    if (!run) throw new Error(`${v.name}: answers no run`);
    const got = await deliveryResponse(pendings.get(v.answers)!, run.level, fromWireRes(v.response)).then(() => 'no error', (e: unknown) => (e instanceof JanusError ? e.code : 'throw'));
    expect(`${v.name}: ${got}`).toBe(`${v.name}: ${v.error}`);
  }
}

/** Each mutated request of a vector file gets the error code it records. */
async function checkInvalid(file: SddpVectors | EddpVectors, level: DeliveryLevel): Promise<void> {
  const records = await replaySkep();
  const now = file.runs[0]!.now;
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
    for (const run of sddp.runs.filter((r) => r.request_plaintext !== '')) {
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
    expect(n).toBe(sddp.runs.filter((r) => r.request_plaintext !== '').length + skep.runs.length + rotate.runs.length);
    expect(n).toBeGreaterThanOrEqual(8);
    // The same body under another Content-Type does not open.
    const run = sddp.runs.find((r) => r.request_plaintext !== '')!;
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
      expect(c.words.map((_, i) => toHex(paywordWord(k, c.sub, c.n, i)))).toEqual(c.words);
      expect(c.words[c.n]).toBe(c.seed);
    }
    const c = payword.chains[1]!;
    for (const a of payword.acks) expect(formatAck({ sub: a.sub, i: a.i, w: fromHex(c.words[a.i]!) })).toBe(a.header);
  });

  it('acknowledgements against a stored chain: accepted (the chain after) or refused (§11.2)', () => {
    const kinds = new Set<string>();
    for (const a of payword.ack_checks) {
      const chain = chainState(a.chain);
      if (a.error) {
        expect(`${a.why}: ${codeOf(() => applyAck(chain, parseAck(a.header)))}`).toBe(`${a.why}: ${a.error}`);
        kinds.add(a.error);
      } else {
        const after = applyAck(chain, parseAck(a.header));
        expect({ acked: after.acked, acked_w: after.ackedW }).toEqual(a.accepted);
        kinds.add('accepted');
      }
    }
    expect([...kinds].sort()).toEqual(['accepted', 'bad_ack', 'replayed']);
    for (const a of payword.invalid_acks) expect(`${a.why}: ${codeOf(() => parseAck(a.header))}`).toBe(`${a.why}: ${a.error}`);
  });
});

/** The record a rotation vector starts from: the SKEP run's, with the chain state the vector gives. */
async function rotationRecord(r: RecordVector): Promise<ClientRecord> {
  const base = (await replaySkep()).get(r.alias)!;
  expect(base.receipt !== null).toBe(r.receipt);
  return { ...base, gen: r.gen, chain: r.chain ? chainState(r.chain) : null, closedChains: r.closed_chains.map(chainState) };
}

const recordJson = (r: ClientRecord): RecordVector => ({ alias: r.alias, gen: r.gen, chain: chainOf(r.chain), closed_chains: r.closedChains.map(chainJson), receipt: r.receipt !== null });

describe('rotate.json (§13)', () => {
  for (const run of rotate.runs) {
    it(run.name, async () => {
      // Both keys from the identity, secret and Argon2id parameters the vector gives (§3).
      for (const who of [run.old, run.next]) {
        const st = await stretchSecret(who.identity, who.secret, { params: who.params });
        expect(toHex(st.master)).toBe(who.master);
        const s = vendorSession(st.master, st.idC, vk.idV, who.gen);
        expect([s.alias, toHex(s.k)]).toEqual([who.alias, who.k]);
      }
      const record = await rotationRecord(run.record);
      const req = fromWireReq(run.request);
      // Inside the old-key-encrypted body, the RSA-OAEP ciphertext carries the new key.
      const body = await verifySecureRequest(parseRotate(vk, req, run.now), req, record.k, { window: vk.window });
      const ek = b64u.decode(jsonBody<{ ek: string }>(body.plaintext).ek);
      expect(toHex(await oaepDecrypt(vk.pkcs8, ek, utf8(`janus/1 rotate ${vk.idV}`)))).toBe(run.oaep_plaintext);
      // The vendor: the same answer (verified rather than compared when it holds an RSA-PSS receipt) and the record after.
      const out = await vendorRotate(vk, parseRotate(vk, req, run.now), req, record, run.now, { bodyIv: fromHex(run.fixed.response_iv) });
      expect(out.rotated).toBe(run.rotated);
      const randomized = run.randomized.some((x) => x.startsWith('response'));
      if (!randomized) expectRes(out.response, run.response);
      expect(recordJson(out.record)).toEqual(run.record_after);
      // The client: the same request (less the randomized ek), and the recorded answer read.
      const old = { idV: vk.idV, alias: run.old.alias, gen: run.old.gen, k: fromHex(run.old.k) };
      const next = { idV: vk.idV, alias: run.next.alias, gen: run.next.gen, k: fromHex(run.next.k) };
      const ackHeader = req.headers['janus-ack'];
      const remaining = run.record.chain && run.record.chain.delivered < run.record.chain.n ? run.record.chain.n - run.record.chain.delivered : 0;
      const start = await rotateStart({
        old,
        next,
        discovery,
        now: run.now,
        ...(remaining ? { remaining } : {}),
        ...(ackHeader ? { ack: parseAck(ackHeader) } : {}),
        fixed: { nonce: fromHex(run.fixed.nonce), bodyIv: fromHex(run.fixed.body_iv), sub: run.fixed.sub },
      });
      expect(Object.keys(start.request.headers).sort()).toEqual(Object.keys(req.headers).sort());
      expect(start.request.headers['signature-input']).toBe(req.headers['signature-input']);
      const mine = jsonBody((await verifySecureRequest(parseRotate(vk, start.request, run.now), start.request, record.k, { window: vk.window })).plaintext);
      expect({ ...mine, ek: null }).toEqual({ ...jsonBody(body.plaintext), ek: null });
      // The client sent the recorded request: its receipt commits to that plaintext (§12.1).
      const state = { ...start.state, requestSha256: b64u.encode(sha256(body.plaintext)) };
      const got = await rotateOnResponse(state, fromWireRes(run.response)).then(
        (r) => ({ alias: r.alias, gen: r.gen, payword: r.payword, receipt: r.receipt !== null }),
        (e: unknown) => (e instanceof JanusError ? { error: e.code, details: e.details } : { error: 'throw' }),
      );
      expect(got).toEqual(run.client_result);
      if (randomized) expect(await rotateOnResponse(state, out.response)).toMatchObject({ alias: run.next.alias, gen: run.next.gen });
      for (const v of rotate.invalid_responses.filter((x) => x.answers === run.name)) {
        const bad = await rotateOnResponse(state, fromWireRes(v.response)).then(() => 'no error', (e: unknown) => (e instanceof JanusError ? e.code : 'throw'));
        expect(`${v.name}: ${bad}`).toBe(`${v.name}: ${v.error}`);
      }
    });
  }

  it('every invalid response answers a run', () => {
    for (const v of rotate.invalid_responses) expect(rotate.runs.some((r) => r.name === v.answers)).toBe(true);
  });

  it('invalid rotations get their error codes, before any RSA work', async () => {
    for (const v of rotate.invalid) {
      const record = await rotationRecord(v.record);
      const req = fromWireReq(v.request);
      const got = await vendorRotateVerify(vk, parseRotate(vk, req, rotate.runs[0]!.now), req, record).then(() => 'no error', (e: unknown) => (e instanceof JanusError ? e.code : 'throw'));
      expect(`${v.name}: ${got}`).toBe(`${v.name}: ${v.error}`);
    }
  });
});

describe('routes.json (§5.1)', () => {
  it('each request-target and method gets its route, the app, or its refusal', () => {
    const table = new RouteTable(routes.routes);
    for (const c of routes.cases) {
      const split = splitTarget(c.target)!;
      expect(canonicalPath(split.path)).toBe(c.canonical);
      const v = table.match(split.path, c.method).verdict;
      const got = routeVerdictVector(v, canonicalPath(split.path) + split.query);
      const { method: _m, target: _t, canonical: _c, ...want } = c;
      expect({ target: c.target, method: c.method, ...got }).toEqual({ target: c.target, method: c.method, ...want });
      if (got.verdict === 'refused') expect(ERRORS[got.error].status).toBe(got.status);
    }
  });
});

/**
 * §6.3 as written, without the implementation: a recorded response opens with AES-256-GCM
 * (node:crypto) under the additional data spelled out from the spec's text, the binding of the
 * request it answers, and the key the spec names.
 */
function openResponseBySpec(k: Uint8Array, b: { tag: string; keyid: string; nonce: string; method: string; targetUri: string }, res: { status: number; headers: Record<string, string>; body: string }, covered: string[]): string {
  const lines = [
    'janus/1 response',
    `tag: ${b.tag}`,
    `keyid: ${b.keyid}`,
    `nonce: ${b.nonce}`,
    `method: ${b.method}`,
    `target-uri: ${b.targetUri}`,
    `status: ${res.status}`,
    `content-type: ${res.headers['content-type']}`,
  ];
  for (const name of covered) if (res.headers[name] !== undefined) lines.push(`${name}: ${res.headers[name]}`);
  const sealedBytes = res.headers['janus-sealed'] !== undefined ? b64u.decode(res.headers['janus-sealed']) : fromHex(res.body);
  const d = createDecipheriv('aes-256-gcm', slotKey(k, Number(b.keyid.split('.')[2])).ke, sealedBytes.subarray(0, 12));
  d.setAAD(utf8(lines.join('\n')));
  d.setAuthTag(sealedBytes.subarray(sealedBytes.length - 16));
  return Buffer.concat([d.update(sealedBytes.subarray(12, sealedBytes.length - 16)), d.final()]).toString('utf8');
}

function bindingOf(req: WireReq): { tag: string; keyid: string; nonce: string; method: string; targetUri: string } {
  const input = req.headers['signature-input']!;
  const param = (name: string) => new RegExp(`;${name}="([^"]*)"`).exec(input)![1]!;
  return { tag: param('tag'), keyid: param('keyid'), nonce: param('nonce'), method: req.method, targetUri: req.url };
}

describe('§6.3 responses, from the spec text alone', () => {
  it('SKEP message 2: keyid = alias and slot of message 1 with the gen inside ek, nonce = b64u(N_C) (§7.2)', () => {
    for (const run of skep.runs) {
      const m1 = jsonBody<{ alias: string; slot: number }>(fromHex(run.messages.m1.body));
      // N_C: the 16 bytes after the version byte and K in the OAEP plaintext; gen: the 4 after them.
      const pt = fromHex(run.oaep_plaintext);
      const nC = pt.subarray(65, 81);
      const gen = new DataView(pt.buffer, pt.byteOffset + 81, 4).getUint32(0);
      const b = { tag: 'janus/1 skep-2', keyid: `${m1.alias}.${gen}.${m1.slot}`, nonce: b64u.encode(nC), method: 'POST', targetUri: run.messages.m1.url };
      expect(JSON.parse(openResponseBySpec(fromHex(run.client.k), b, run.messages.m2, []))).toHaveProperty('n_v');
    }
  });

  it('every delivery answer, with its covered headers in the table\'s order', () => {
    let n = 0;
    for (const file of [sddp, eddp]) {
      for (const run of file.runs) {
        const covered = run.level === 'sddp' ? ['janus-error'] : run.level === 'eddp' ? ['janus-challenge', 'janus-error'] : ['janus-challenge', 'janus-receipt', 'janus-error'];
        expect(openResponseBySpec(fromHex(run.k), bindingOf(run.request), run.response, covered)).toBe(run.response_plaintext);
        n++;
      }
    }
    expect(n).toBe(sddp.runs.length + eddp.runs.length);
  });

  it('rotation answers: under the new key (keyid new_alias.new_gen.n), or the sealed ack_required under the old one', () => {
    for (const run of rotate.runs) {
      const b = bindingOf(run.request);
      if (run.rotated) {
        const n = b.keyid.split('.')[2];
        expect(JSON.parse(openResponseBySpec(fromHex(run.next.k), { ...b, keyid: `${run.next.alias}.${run.next.gen}.${n}` }, run.response, []))).toMatchObject({ alias: run.next.alias, gen: run.next.gen });
      } else {
        expect(JSON.parse(openResponseBySpec(fromHex(run.old.k), b, run.response, ['janus-receipt', 'janus-error']))).toMatchObject({ error: { code: 'ack_required' } });
      }
    }
  });
});
