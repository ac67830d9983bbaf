/**
 * Generates test/vectors/*.json (docs/PROTOCOL.md §16). Run with `npm run vectors`; the output is
 * checked in and test/vectors.test.ts asserts the implementation reproduces it byte for byte.
 * Every "random" input comes from det(label) so re-running gives the same files, except for the
 * values that are randomized by definition (RSA-OAEP ciphertexts, RSA-PSS signatures), which are
 * kept from the existing files when present so that regenerating does not churn them.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { b64u, fromUtf8, toHex, utf8, fromHex } from '../src/crypto/bytes.ts';
import { generateVendorKeyPair, spkiFingerprint } from '../src/crypto/rsa.ts';
import { JANUS_ARGON2 } from '../src/crypto/argon2.ts';
import {
  buildDiscovery,
  canonicalClientId,
  deliveryRequest,
  formatAck,
  issueChallenge,
  JanusError,
  keyTransportPlaintext,
  makeCredential,
  openDelivery,
  parseDelivery,
  parseDiscovery,
  parseRotate,
  parseSkepConfirm,
  parseSkepHello,
  paywordSeed,
  paywordWord,
  rotateStart,
  sealAckRequired,
  sealDelivery,
  sealSkepToken,
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
  vendorSession,
  masterSalt,
  type ClientRecord,
  type HttpRequestMsg,
  type HttpResponseMsg,
  type JsonObject,
  type VendorKeys,
} from '../src/protocol/index.ts';
import { det, SMALL_ARGON2, wireReq, wireRes, VECTOR_NOW, VECTOR_POLICY } from '../test/vectors/support.ts';
import { codeOf as errorOf } from '../test/support/errors.ts';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '..', 'test', 'vectors');
mkdirSync(outDir, { recursive: true });

function previous(file: string): any {
  const p = join(outDir, file);
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : null;
}

function write(file: string, v: unknown): void {
  writeFileSync(join(outDir, file), JSON.stringify(v, null, 2) + '\n');
  console.log(`wrote test/vectors/${file}`);
}


// ---------------------------------------------------------------------------------------------
// The vendor's RSA key: generated once, then kept.
const prevSkep = previous('skep.json');
let pair: { spki: Uint8Array; pkcs8: Uint8Array };
if (prevSkep) pair = { spki: fromHex(prevSkep.vendor.spki), pkcs8: fromHex(prevSkep.vendor.pkcs8) };
else pair = await generateVendorKeyPair(3072);

const ORIGIN = 'https://quotes.example';
const NOW = VECTOR_NOW;
const vk: VendorKeys = { idV: ORIGIN, spki: pair.spki, pkcs8: pair.pkcs8, tk: det('tk', 32), ck: det('ck', 32), window: 1, receipt: 'offered' };
const vendorJson = { id_v: ORIGIN, spki: toHex(pair.spki), pkcs8: toHex(pair.pkcs8), fingerprint: spkiFingerprint(pair.spki), tk: toHex(vk.tk), ck: toHex(vk.ck), window: 1, receipt: 'offered' };
const discovery = parseDiscovery(
  utf8(JSON.stringify(buildDiscovery({ origin: ORIGIN, spki: b64u.encode(pair.spki), fingerprint: spkiFingerprint(pair.spki), routes: [] }))),
  ORIGIN,
);

// ---------------------------------------------------------------------------------------------
// janus.json (§3)
{
  const identities = ['alice@example.org', '  Alice@Example.ORG\t', 'Ｂｏｂ@例え.jp', 'e\u0301lodie@example.fr'].map((input) => ({ input, id_c: canonicalClientId(input) }));
  const badIdentities = ['', '   ', 'x'.repeat(257)].map((input) => ({ input, error: errorOf(() => canonicalClientId(input)) }));
  const vendorIds = ['https://Quotes.Example/path?q=1', 'https://quotes.example:443/', 'https://quotes.example:8443', 'https://bücher.example', 'http://localhost:8080/x', 'http://127.0.0.1:3000'].map((url) => ({ url, id_v: vendorIdentity(url) }));
  const badVendorIds = ['http://quotes.example', 'ftp://quotes.example', 'file:///etc/passwd', 'data:text/plain,hi', 'not a url'].map((url) => ({ url, error: errorOf(() => vendorIdentity(url)) }));
  const masters = [];
  for (const [identity, secret, params] of [
    ['alice@example.org', 'correct horse battery staple', JANUS_ARGON2],
    ['alice@example.org', 'correct horse battery staple', SMALL_ARGON2],
    ['bob@example.org', 'correct horse battery staple', SMALL_ARGON2],
    ['alice@example.org', 'Correct horse battery staple', SMALL_ARGON2],
  ] as const) {
    const { idC, master } = await stretchSecret(identity, secret, { params });
    masters.push({ identity, secret, params, id_c: idC, salt: toHex(masterSalt(idC)), master: toHex(master) });
  }
  const m = fromHex(masters[1]!.master);
  const keys = [];
  for (const [idV, gen] of [[ORIGIN, 0], [ORIGIN, 1], ['https://news.example', 0], ['http://localhost:8080', 0]] as const) {
    keys.push({ master: masters[1]!.master, id_c: 'alice@example.org', id_v: idV, gen, k: toHex(vendorKey(m, 'alice@example.org', idV, gen).k), alias: vendorAlias(m, 'alice@example.org', idV) });
  }
  write('janus.json', {
    description: 'docs/PROTOCOL.md §3: canonical identities, id_V, Argon2id master keys, vendor keys and aliases. Binary values are hex.',
    identities,
    invalid_identities: badIdentities,
    vendor_ids: vendorIds,
    invalid_vendor_ids: badVendorIds,
    masters,
    vendor_keys: keys,
  });
}

// A client for the message vectors: small Argon2 parameters (the master is what matters here).
const { idC, master } = await stretchSecret('alice@example.org', 'correct horse battery staple', { params: SMALL_ARGON2 });
const alice = vendorSession(master, idC, ORIGIN, 0);
const clientJson = { id_c: idC, master: toHex(master), id_v: ORIGIN, alias: alice.alias, gen: 0, k: toHex(alice.k) };

// ---------------------------------------------------------------------------------------------
// slot.json (§4, §10)
{
  const slots = [0, 299, 300, NOW, NOW + 299].map((t) => ({ time: t, n: slotOf(t) }));
  const slotKeys = [slotOf(NOW), slotOf(NOW) + 1, 0].map((n) => {
    const s = slotKey(alice.k, n);
    return { k: toHex(alice.k), n, ke: toHex(s.ke), km: toHex(s.km) };
  });
  const cred = makeCredential(alice, ORIGIN, NOW);
  write('slot.json', {
    description: 'docs/PROTOCOL.md §4 slots and slot keys, §10 slot credentials. Binary values are hex.',
    client: clientJson,
    slots,
    slot_keys: slotKeys,
    credentials: [{ alias: alice.alias, gen: 0, k: toHex(alice.k), id_v: ORIGIN, time: NOW, value: cred.value }],
    invalid_credentials: [
      { value: cred.value, now: NOW + 600, window: 1, error: 'slot_out_of_window' },
      { value: cred.value.replace(/.$/, (c) => (c === 'A' ? 'Q' : 'A')), now: NOW, window: 1, error: 'bad_credential' },
      { value: makeCredential(alice, 'https://quotes.example.evil', NOW).value, now: NOW, window: 1, error: 'bad_credential', why: 'made for another origin' },
      { value: cred.value.slice(0, -3), now: NOW, window: 1, error: 'malformed' },
      { value: `${alice.alias}.0.x.${cred.value.split('.').pop()}`, now: NOW, window: 1, error: 'malformed' },
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Message runs: each side reproduces its outputs from the recorded inputs.
const records = new Map<string, ClientRecord>();

// skep.json (§7): SKEP (no receipt); non-repudiation SKEP is in skep-receipt below.
{
  const prevRuns = prevSkep?.runs ?? [];
  const runs = [];
  for (const [name, who, wantReceipt, chain] of [
    ['skep', 'alice@example.org', false, 0],
    ['non-repudiation skep with a payword chain', 'bob@example.org', true, 4],
  ] as const) {
    const st = await stretchSecret(who, 'correct horse battery staple', { params: SMALL_ARGON2 });
    const session = vendorSession(st.master, st.idC, ORIGIN, 0);
    const fixed = { nC: det(`${name} nC`, 16), nC3: det(`${name} nC3`, 16), bodyIv3: det(`${name} body iv3`, 12), sub: b64u.encode(det(`${name} sub`, 16)) };
    const data: JsonObject = wantReceipt ? { plan: 'intraday', months: 1, card: '4111111111111111' } : { watchlist: ['LU', 'T', 'IBM'] };
    const start = await skepStart({ session, discovery, data, now: NOW, receipt: wantReceipt, ...(chain ? { chain } : {}), fixed });
    // Keep the recorded (randomized) OAEP ciphertext if there is one.
    const prevRun = prevRuns.find((r: any) => r.name === name);
    const m1: HttpRequestMsg = prevRun ? { ...start.request, body: fromHex(prevRun.messages.m1.body) } : start.request;
    const hello = parseSkepHello(m1);
    const m2 = await skepVendorHello(vk, m1, hello, null, NOW, { iv: det(`${name} token iv`, 12), r: det(`${name} token r`, 16), bodyIv: det(`${name} body iv2`, 12) });
    const s2 = await skepOnResponse(start.state, m2, NOW);
    const m3 = s2.request!;
    const confirm = parseSkepConfirm(vk, m3, NOW);
    const out = await skepVendorConfirm(vk, m3, confirm, null, VECTOR_POLICY, NOW, { bodyIv: det(`${name} body iv4`, 12) });
    let m4 = out.response;
    // A receipt is randomized (RSA-PSS): kept from the previous file while the coding is the same.
    if (prevRun && wantReceipt && prevRun.messages.m4.headers['content-encoding'] === m4.headers['content-encoding']) m4 = { ...m4, headers: prevRun.messages.m4.headers, body: fromHex(prevRun.messages.m4.body) };
    const s4 = await skepOnResponse(s2.state, m4, NOW);
    if (s4.state.phase !== 'done') throw new Error('SKEP run did not finish');
    records.set(out.record.alias, out.record);
    runs.push({
      name,
      client: { identity: who, secret: 'correct horse battery staple', params: SMALL_ARGON2, id_c: st.idC, master: toHex(st.master), alias: session.alias, gen: 0, k: toHex(session.k) },
      now: NOW,
      data,
      receipt_requested: wantReceipt,
      chain,
      fixed: { n_c: toHex(fixed.nC), n_c3: toHex(fixed.nC3), body_iv3: toHex(fixed.bodyIv3), sub: fixed.sub, token_iv: toHex(det(`${name} token iv`, 12)), token_r: toHex(det(`${name} token r`, 16)), body_iv2: toHex(det(`${name} body iv2`, 12)), body_iv4: toHex(det(`${name} body iv4`, 12)) },
      oaep_plaintext: toHex(keyTransportPlaintext(session.k, fixed.nC, 0, session.alias)),
      oaep_label: fromUtf8(skepOaepLabel(ORIGIN)),
      messages: { m1: wireReq(m1), m2: wireRes(m2), m3: wireReq(m3), m4: wireRes(m4) },
      result: { ...s4.state.result, receipt: s4.state.result.receipt },
      randomized: wantReceipt ? ['messages.m1.body (RSA-OAEP)', 'messages.m4 (carries an RSA-PSS receipt)'] : ['messages.m1.body (RSA-OAEP)'],
    });
  }
  write('skep.json', {
    description: 'docs/PROTOCOL.md §7 and §12: SKEP and non-repudiation SKEP runs. m2 is reproduced from m1 by the vendor, m3 from m2 by the client, m4 from m3 by the vendor. Binary values are hex.',
    vendor: vendorJson,
    runs,
  });
}

// sddp.json / eddp.json (§8, §9, §11)
async function deliveryRun(name: string, level: 'sddp' | 'eddp' | 'eddp+receipts', opts: { alias: string; challenge?: string; body?: string; ack?: { i: number }; method?: string; status?: number }) {
  const rec = records.get(opts.alias);
  if (!rec) throw new Error('no record');
  const key = { alias: rec.alias, gen: rec.gen, k: rec.k };
  const ack = opts.ack && rec.chain ? { sub: rec.chain.sub, i: opts.ack.i, w: paywordWord(rec.k, rec.chain.sub, rec.chain.n, opts.ack.i) } : undefined;
  const { request } = await deliveryRequest({
    key,
    level,
    method: opts.method ?? (opts.body ? 'POST' : 'GET'),
    url: ORIGIN + (level === 'sddp' ? '/api/watchlist' : '/api/intraday/LU'),
    now: NOW,
    nonce: det(`${name} nonce`, 16),
    bodyIv: det(`${name} body iv`, 12),
    ...(opts.challenge ? { challenge: opts.challenge } : {}),
    ...(opts.body ? { body: utf8(opts.body), contentType: 'application/json' } : {}),
    ...(ack ? { ack } : {}),
  });
  const d = parseDelivery(vk, request, level, NOW);
  const opened = await openDelivery(vk, d, request, rec, NOW);
  const fixed = { bodyIv: det(`${name} response iv`, 12), r: det(`${name} next challenge r`, 16) };
  // A bodiless answer (§6.3: 204) has an empty plaintext; its seal travels in Janus-Sealed.
  let body = opts.status === 204 ? new Uint8Array(0) : utf8(JSON.stringify({ alias: rec.alias, quotes: [{ symbol: 'LU', price: 86.5 }] }));
  let response: HttpResponseMsg;
  if (opened.ackRequired) {
    // §11.2: the sealed 402; nothing is stored.
    response = await sealAckRequired(vk, d, request, opened, NOW, fixed);
    body = utf8(JSON.stringify(new JanusError('ack_required', undefined, { sub: opened.record.chain!.sub, pending: opened.record.chain!.delivered }).toJSON()));
  } else {
    response = await sealDelivery(vk, d, request, opened, { status: opts.status ?? 200, contentType: opts.status === 204 ? 'text/plain' : 'application/json', body }, NOW, fixed);
    records.set(opened.record.alias, opened.record);
  }
  return {
    name,
    level,
    alias: rec.alias,
    gen: rec.gen,
    k: toHex(rec.k),
    now: NOW,
    fixed: { nonce: toHex(det(`${name} nonce`, 16)), body_iv: toHex(det(`${name} body iv`, 12)), response_iv: toHex(det(`${name} response iv`, 12)), next_challenge_r: toHex(det(`${name} next challenge r`, 16)) },
    request_plaintext: opts.body ?? '',
    response_plaintext: fromUtf8(body),
    request: wireReq(request),
    response: wireRes(response),
  };
}

async function mutations(base: HttpRequestMsg, level: 'sddp' | 'eddp'): Promise<unknown[]> {
  const m = (name: string, f: (r: HttpRequestMsg) => void, error: string) => {
    const r: HttpRequestMsg = { ...base, headers: { ...base.headers }, body: base.body.slice() };
    f(r);
    return { name, request: wireReq(r), error };
  };
  const out = [
    m('no signature', (r) => { delete r.headers['signature']; delete r.headers['signature-input']; }, 'missing_signature'),
    m('method changed', (r) => { r.method = 'DELETE'; }, 'bad_signature'),
    m('target changed', (r) => { r.url += '?x=1'; }, 'bad_signature'),
    m('MAC bit flipped', (r) => { r.headers['signature'] = r.headers['signature']!.replace(/^janus=:(.)/, (_s, c) => `janus=:${c === 'A' ? 'B' : 'A'}`); }, 'bad_signature'),
    m('wrong tag', (r) => { r.headers['signature-input'] = r.headers['signature-input']!.replace(/tag="[^"]*"/, 'tag="janus/1 other"'); }, 'malformed'),
    // EDDP checks the challenge, which is bound to the alias, before it looks the alias up (§9.2).
    m('unknown alias', (r) => { r.headers['signature-input'] = r.headers['signature-input']!.replace(/keyid="[^.]+/, `keyid="${'Z'.repeat(22)}`); }, level === 'eddp' ? 'challenge_invalid' : 'unknown_client'),
    m('wrong generation', (r) => { r.headers['signature-input'] = r.headers['signature-input']!.replace(/keyid="([^.]+)\.0\./, 'keyid="$1.3.'); }, 'generation_mismatch'),
    m('slot far in the future', (r) => { r.headers['signature-input'] = r.headers['signature-input']!.replace(/\.(\d+)"/, (_s, n) => `.${Number(n) + 5}"`); }, 'slot_out_of_window'),
    m('digest header missing', (r) => { delete r.headers['content-digest']; }, 'malformed'),
    m('body appended', (r) => { r.body = new Uint8Array([...r.body, 0]); }, 'bad_digest'),
  ];
  if (level === 'eddp') out.push(m('challenge forged', (r) => { r.headers['janus-challenge'] = 'c1.' + 'A'.repeat(54); }, 'challenge_invalid'));
  if (base.body.length > 0) {
    // §6.4: the body's Content-Type is in its additional data.
    out.push(m('content type changed', (r) => { r.headers['content-type'] = 'text/plain'; }, 'decrypt_failed'));
    out.push(m('content type removed', (r) => { delete r.headers['content-type']; }, 'malformed'));
  }
  return out;
}

{
  const bobAlias = [...records.values()].find((r) => r.chain)!.alias;
  const sddp = await deliveryRun('sddp get', 'sddp', { alias: alice.alias });
  const sddpPost = await deliveryRun('sddp post with a body', 'sddp', { alias: alice.alias, body: '{"add":"LU"}' });
  const sddp204 = await deliveryRun('sddp delete answered 204: the seal in Janus-Sealed', 'sddp', { alias: alice.alias, method: 'DELETE', status: 204 });
  const baseReq = (v: any): HttpRequestMsg => ({ method: v.request.method, url: v.request.url, headers: v.request.headers, body: fromHex(v.request.body) });
  write('sddp.json', {
    description: 'docs/PROTOCOL.md §6 and §8: SDDP requests and responses (the third answers 204: its seal is in Janus-Sealed, §6.3); invalid: mutated requests with the error the vendor must answer (vendor: skep.json, client records: the SKEP runs; vendor time = now).',
    vendor: vendorJson,
    runs: [sddp, sddpPost, sddp204],
    invalid: await mutations(baseReq(sddpPost), 'sddp'),
  });

  const c1 = issueChallenge(vk.ck, ORIGIN, alice.alias, NOW, det('challenge r', 16));
  const e1 = await deliveryRun('eddp first', 'eddp', { alias: alice.alias, challenge: c1.challenge });
  const e2 = await deliveryRun('eddp piggybacked', 'eddp', { alias: alice.alias, challenge: e1.response.headers['janus-challenge'] });
  const cb = issueChallenge(vk.ck, ORIGIN, bobAlias, NOW, det('bob challenge r', 16));
  const r1 = await deliveryRun('eddp+receipts delivery 1', 'eddp+receipts', { alias: bobAlias, challenge: cb.challenge });
  const r2 = await deliveryRun('eddp+receipts delivery 2 acknowledging 1', 'eddp+receipts', { alias: bobAlias, challenge: r1.response.headers['janus-challenge'], ack: { i: 1 } });
  const r3 = await deliveryRun('eddp+receipts before acknowledging 2: the sealed ack_required', 'eddp+receipts', { alias: bobAlias, challenge: r2.response.headers['janus-challenge'] });
  write('eddp.json', {
    description: 'docs/PROTOCOL.md §9 and §11: EDDP with a challenge, with the piggybacked challenge, eddp+receipts with a PayWord acknowledgement, and the sealed 402 ack_required for a request that skips one (status 402 in the response; nothing stored). The challenge key ck is in vendor.',
    vendor: vendorJson,
    challenges: [
      { alias: alice.alias, now: NOW, r: toHex(det('challenge r', 16)), challenge: c1.challenge, expires: c1.expires },
      { alias: bobAlias, now: NOW, r: toHex(det('bob challenge r', 16)), challenge: cb.challenge, expires: cb.expires },
    ],
    invalid_challenges: [
      { alias: bobAlias, challenge: c1.challenge, now: NOW, error: 'challenge_invalid', why: 'issued to another alias' },
      { alias: alice.alias, challenge: c1.challenge, now: NOW + 121, error: 'challenge_invalid', why: 'expired' },
    ],
    runs: [e1, e2, r1, r2, r3],
    invalid: await mutations(baseReq(e2), 'eddp'),
  });
}

// payword.json (§11)
{
  const subs = ['AAAAAAAAAAAAAAAAAAAAAA', b64u.encode(det('sub', 16))];
  const chains = subs.map((sub) => {
    const n = 5;
    return { k: toHex(alice.k), sub, n, seed: toHex(paywordSeed(alice.k, sub)), words: Array.from({ length: n + 1 }, (_, i) => toHex(paywordWord(alice.k, sub, n, i))) };
  });
  const c = chains[1]!;
  write('payword.json', {
    description: 'docs/PROTOCOL.md §11: seeds r = w_N and chains w_0..w_N (w_{i-1} = SHA256(w_i)), with acknowledgement headers.',
    chains,
    acks: [1, 2].map((i) => ({ sub: c.sub, i, header: formatAck({ sub: c.sub, i, w: fromHex(c.words[i]!) }) })),
    invalid_acks: [
      { header: `${c.sub}.1.${b64u.encode(new Uint8Array(32))}`, w0: c.words[0], acked: 0, delivered: 1, error: 'bad_ack' },
      { header: `${c.sub}.2.${b64u.encode(fromHex(c.words[2]!))}`, w0: c.words[0], acked: 0, delivered: 1, error: 'bad_ack' },
      { header: `${c.sub}.0.${b64u.encode(fromHex(c.words[0]!))}`, w0: c.words[0], acked: 0, delivered: 1, error: 'malformed' },
      { header: `${c.sub}.1`, w0: c.words[0], acked: 0, delivered: 1, error: 'malformed' },
    ],
  });
}

// rotate.json (§13)
{
  const prevRot = previous('rotate.json');
  const runs = [];
  for (const [name, newSecret, gen] of [['generation rotation', 'correct horse battery staple', 1], ['secret change', 'a new secret', 0]] as const) {
    const rec = records.get(alice.alias)!;
    const old = { idV: ORIGIN, alias: rec.alias, gen: rec.gen, k: rec.k };
    const st = await stretchSecret('alice@example.org', newSecret, { params: SMALL_ARGON2 });
    const next = vendorSession(st.master, st.idC, ORIGIN, gen);
    const start = await rotateStart({ old, next, discovery, now: NOW, fixed: { nonce: det(`${name} nonce`, 16), bodyIv: det(`${name} body iv`, 12) } });
    const prevRun = prevRot?.runs.find((r: any) => r.name === name);
    // The recorded request (its RSA-OAEP ciphertext is randomized) is kept while it still verifies
    // and opens under the current spec; after a change of the framing it is made again.
    let request: HttpRequestMsg = start.request;
    if (prevRun) {
      const kept: HttpRequestMsg = { ...start.request, headers: prevRun.request.headers, body: fromHex(prevRun.request.body) };
      try {
        await vendorRotate(vk, parseRotate(vk, kept, NOW), kept, rec, NOW);
        request = kept;
      } catch {
        // made again below
      }
    }
    const parsed = parseRotate(vk, request, NOW);
    const out = await vendorRotate(vk, parsed, request, rec, NOW, { bodyIv: det(`${name} response iv`, 12) });
    runs.push({
      name,
      old: { alias: old.alias, gen: old.gen, k: toHex(old.k) },
      next: { secret: newSecret, master: toHex(st.master), alias: next.alias, gen: next.gen, k: toHex(next.k) },
      now: NOW,
      fixed: { nonce: toHex(det(`${name} nonce`, 16)), body_iv: toHex(det(`${name} body iv`, 12)), response_iv: toHex(det(`${name} response iv`, 12)) },
      oaep_plaintext: toHex(keyTransportPlaintext(next.k, det(`${name} nonce`, 16), next.gen, next.alias)),
      request: wireReq(request),
      response: wireRes(out.response),
      randomized: ['request (its encrypted body holds an RSA-OAEP ciphertext)'],
    });
  }
  write('rotate.json', {
    description: 'docs/PROTOCOL.md §13: a generation rotation and a secret change of the SKEP run "skep" (each from the same starting record). The response is under the new key.',
    vendor: vendorJson,
    runs,
  });
}
