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
import { generateVendorKeyPair, oaepDecrypt, spkiFingerprint } from '../src/crypto/rsa.ts';
import { sha256 } from '../src/crypto/hash.ts';
import { JANUS_ARGON2 } from '../src/crypto/argon2.ts';
import {
  applyAck,
  buildDiscovery,
  canonicalClientId,
  canonicalPath,
  countDelivery,
  deliveryRefusal,
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
  parseAck,
  paywordSeed,
  paywordWord,
  rotateOnResponse,
  rotateStart,
  RouteTable,
  sealDelivery,
  sealDeliveryError,
  sealRefusal,
  sealRequest,
  sealResponse,
  parseSecureRequest,
  splitTarget,
  HEADER,
  isErrorCode,
  TAG,
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
  verifySecureRequest,
  masterSalt,
  type Ack,
  type ChainState,
  type ClientRecord,
  type DeliveryLevel,
  type ErrorCode,
  type HttpRequestMsg,
  type HttpResponseMsg,
  type JsonObject,
  type Route,
  type SkepResult,
  type VendorKeys,
} from '../src/protocol/index.ts';
import { det, fromWireReq, fromWireRes, routeVerdictVector, SMALL_ARGON2, wireReq, wireRes, VECTOR_NOW, VECTOR_POLICY } from '../test/vectors/support.ts';
import type {
  ChainVector,
  ClientKeyVector,
  DeliveryRunVector,
  InvalidRequestVector,
  InvalidResponseVector,
  InvalidRotationVector,
  RecordVector,
  RefusedRequestVector,
  RotateClientResultVector,
  RotateRunVector,
  SkepResultVector,
  SkepRunVector,
  StretchedClientVector,
  VectorFile,
  VectorFiles,
  VendorVector,
} from '../test/vectors/types.ts';
import { codeOf } from '../test/support/errors.ts';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '..', 'test', 'vectors');
mkdirSync(outDir, { recursive: true });

/**
 * The file as the last run wrote it, or null. Read as its type without the top-level check of
 * parseVectors: a file written before a change of shape must still give its RSA key and its
 * randomized values, which are checked where they are used (decrypted, verified or compared).
 */
function previous<F extends VectorFile>(file: F): VectorFiles[F] | null {
  const p = join(outDir, file);
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as VectorFiles[F]) : null;
}

function write<F extends VectorFile>(file: F, v: VectorFiles[F]): void {
  writeFileSync(join(outDir, file), JSON.stringify(v, null, 2) + '\n');
  console.log(`wrote test/vectors/${file}`);
}

/** The code of the JanusError `fn` throws: an invalid input that is accepted, or fails otherwise, is a bug here. */
function errorOf(fn: () => unknown): ErrorCode {
  const code = codeOf(fn);
  if (code === undefined || !isErrorCode(code)) throw new Error(`expected a JanusError, got ${code ?? 'no error'}`);
  return code;
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
const vendorJson: VendorVector = { id_v: ORIGIN, spki: toHex(pair.spki), pkcs8: toHex(pair.pkcs8), fingerprint: spkiFingerprint(pair.spki), tk: toHex(vk.tk), ck: toHex(vk.ck), window: 1, receipt: 'offered' };
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
const clientJson: ClientKeyVector = { id_c: idC, master: toHex(master), id_v: ORIGIN, alias: alice.alias, gen: 0, k: toHex(alice.k) };

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
/** The records as the SKEP runs left them (the rotation vectors start from these). */
const skepRecords = new Map<string, ClientRecord>();

/** The client's SKEP result as recorded: every member, in the order of SkepResult. */
function skepResultJson(r: SkepResult): SkepResultVector {
  const { receipt, payword } = r;
  return {
    alias: r.alias,
    gen: r.gen,
    registeredAt: r.registeredAt,
    validFrom: r.validFrom,
    validUntil: r.validUntil,
    receipt: receipt && { alg: receipt.alg, payload: receipt.payload, sig: receipt.sig, fingerprint: receipt.fingerprint },
    payword: payword && { sub: payword.sub, n: payword.n, w0: payword.w0 },
    fingerprint: r.fingerprint,
  };
}

// skep.json (§7): SKEP (no receipt); non-repudiation SKEP is in skep-receipt below.
{
  const prevRuns = prevSkep?.runs ?? [];
  const runs: SkepRunVector[] = [];
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
    const prevRun = prevRuns.find((r) => r.name === name);
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
    skepRecords.set(out.record.alias, out.record);
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
      result: skepResultJson(s4.state.result),
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

/** One-time values the vector vendor has recorded (nonces, challenges): what makes a request `replayed`. */
const used = new Set<string>();

interface RunOpts {
  alias: string;
  challenge?: string;
  body?: string;
  ack?: { i: number; w?: Uint8Array };
  method?: string;
  status?: number;
  contentType?: string;
  /** The application's answer (a JanusError it raised): sealed with covered Janus-Error (§6.3). */
  appError?: JanusError;
  /** The application's own body (default: a small page of quotes). */
  answer?: string;
}

function chainJson(c: ChainState): ChainVector {
  return { sub: c.sub, n: c.n, w0: c.w0, delivered: c.delivered, acked: c.acked, acked_w: c.ackedW };
}
const chainOrNull = (c: ChainState | null): ChainVector | null => (c ? chainJson(c) : null);

async function signedDelivery(name: string, level: DeliveryLevel, rec: ClientRecord, opts: RunOpts, covered?: [string, string][]): Promise<HttpRequestMsg> {
  const key = { alias: rec.alias, gen: rec.gen, k: rec.k };
  const sub = rec.chain?.sub ?? b64u.encode(det(`${name} sub`, 16));
  const ack = opts.ack ? { sub, i: opts.ack.i, w: opts.ack.w ?? paywordWord(rec.k, sub, rec.chain!.n, opts.ack.i) } : undefined;
  const input = {
    key,
    level,
    method: opts.method ?? (opts.body ? 'POST' : 'GET'),
    url: ORIGIN + (level === 'sddp' ? '/api/watchlist' : '/api/intraday/LU'),
    now: NOW,
    nonce: det(`${name} nonce`, 16),
    bodyIv: det(`${name} body iv`, 12),
    ...(opts.challenge ? { challenge: opts.challenge } : {}),
    ...(opts.body ? { body: utf8(opts.body), contentType: 'application/json' } : {}),
  };
  if (!covered) return (await deliveryRequest({ ...input, ...(ack ? { ack } : {}) })).request;
  // A request the client library would not make (a Janus-Ack on a route that takes none), signed all the same.
  return (await sealRequest({ ...input, tag: level === 'sddp' ? TAG.sddp : TAG.eddp, covered: [...(opts.challenge ? [[HEADER.challenge, opts.challenge] as [string, string]] : []), ...covered] })).request;
}

async function deliveryRun(name: string, level: DeliveryLevel, opts: RunOpts): Promise<DeliveryRunVector> {
  const rec = records.get(opts.alias);
  if (!rec) throw new Error('no record');
  const request = await signedDelivery(name, level, rec, opts);
  const d = parseDelivery(vk, request, level, NOW);
  const opened = await openDelivery(vk, d, request, rec, NOW);
  for (const u of opened.useOnce) {
    if (used.has(u.key)) throw new Error(`${name}: replayed`);
    used.add(u.key);
  }
  // §11.2: verified and recorded: the one-time values and the acknowledgement are stored, and every answer is sealed.
  records.set(rec.alias, opened.record);
  const fixed = { bodyIv: det(`${name} response iv`, 12), r: det(`${name} next challenge r`, 16) };
  let response: HttpResponseMsg;
  let body: Uint8Array;
  let answer: string;
  if (opened.rule !== 'deliver') {
    response = await sealRefusal(vk, d, request, opened, NOW, fixed);
    body = utf8(JSON.stringify(deliveryRefusal(opened.record.chain!, opened.rule).toJSON()));
    answer = `the vendor's sealed ${opened.rule}`;
  } else if (opts.appError) {
    response = await sealDeliveryError(vk, d, request, opened, opts.appError, NOW, fixed);
    body = utf8(JSON.stringify(opts.appError.toJSON()));
    answer = `the application's error ${opts.appError.code}, sealed`;
  } else {
    const status = opts.status ?? 200;
    // A bodiless answer (§6.3: 204) has an empty plaintext; its seal travels in Janus-Sealed.
    body = status === 204 ? new Uint8Array(0) : utf8(opts.answer ?? JSON.stringify({ alias: rec.alias, quotes: [{ symbol: 'LU', price: 86.5 }] }));
    let delivery = null;
    if (level === 'eddp+receipts' && status >= 200 && status <= 299) {
      const counted = countDelivery(opened.record, NOW);
      records.set(rec.alias, counted.record);
      delivery = counted.mark;
    }
    response = await sealDelivery(vk, d, request, opened, { status, contentType: opts.contentType ?? 'application/json', body, delivery }, NOW, fixed);
    answer = delivery ? `delivery ${delivery.i}` : `the application's answer ${status}`;
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
    answer,
    ...(opts.appError ? { application_error: { code: opts.appError.code, message: opts.appError.message } } : {}),
    response_plaintext: fromUtf8(body),
    ...(level === 'eddp+receipts' ? { chain_after: chainOrNull(records.get(rec.alias)!.chain) } : {}),
    request: wireReq(request),
    response: wireRes(response),
  };
}

/** A request the vendor refuses after the run `after`, with the error it must get; it stores nothing. */
async function refusedRun(name: string, after: string, level: DeliveryLevel, opts: RunOpts, error: ErrorCode, why: string, covered?: [string, string][]): Promise<RefusedRequestVector> {
  const rec = records.get(opts.alias)!;
  const request = await signedDelivery(name, level, rec, opts, covered);
  let got = 'no error';
  try {
    const d = parseDelivery(vk, request, level, NOW);
    const opened = await openDelivery(vk, d, request, rec, NOW);
    if (opened.useOnce.some((u) => used.has(u.key))) got = 'replayed';
  } catch (e) {
    if (!(e instanceof JanusError)) throw e;
    got = e.code;
  }
  if (got !== error) throw new Error(`${name}: got ${got}, want ${error}`);
  return { name, after, level, why, request: wireReq(request), error };
}

/**
 * An answer to the request of `run`, sealed correctly under its key but breaking a rule of §6.3 or
 * §11.2: the client must refuse it with `error` after it opened.
 */
async function badAnswer(name: string, run: DeliveryRunVector, answer: { status: number; covered: [string, string][]; body?: string }, error: ErrorCode, why: string): Promise<InvalidResponseVector> {
  const req = fromWireReq(run.request);
  const eddp = run.level !== 'sddp';
  const parsed = parseSecureRequest(req, { tag: eddp ? TAG.eddp : TAG.sddp, idV: ORIGIN, now: NOW, window: 1, ...(eddp ? { extra: [HEADER.challenge] } : {}), optional: [HEADER.ack] });
  const response = await sealResponse(parsed, slotKey(fromHex(run.k), parsed.n), { status: answer.status, contentType: 'application/json', covered: answer.covered, body: utf8(answer.body ?? '{}'), bodyIv: det(`${name} iv`, 12) });
  return { name, answers: run.name, why, response: wireRes(response), error };
}

function mutations(base: HttpRequestMsg, level: 'sddp' | 'eddp'): InvalidRequestVector[] {
  const m = (name: string, f: (r: HttpRequestMsg) => void, error: ErrorCode): InvalidRequestVector => {
    const r: HttpRequestMsg = { ...base, headers: { ...base.headers }, body: base.body.slice() };
    f(r);
    return { name, request: wireReq(r), error };
  };
  const nonceParam = (r: HttpRequestMsg, v: string) => { r.headers['signature-input'] = r.headers['signature-input']!.replace(/nonce="[^"]*"/, `nonce="${v}"`); };
  const out = [
    m('no signature', (r) => { delete r.headers['signature']; delete r.headers['signature-input']; }, 'missing_signature'),
    m('method changed', (r) => { r.method = 'DELETE'; }, 'bad_signature'),
    m('target changed', (r) => { r.url += '?x=1'; }, 'bad_signature'),
    m('MAC bit flipped', (r) => { r.headers['signature'] = r.headers['signature']!.replace(/^janus=:(.)/, (_s, c) => `janus=:${c === 'A' ? 'B' : 'A'}`); }, 'bad_signature'),
    m('wrong tag', (r) => { r.headers['signature-input'] = r.headers['signature-input']!.replace(/tag="[^"]*"/, 'tag="janus/1 other"'); }, 'malformed'),
    // §6.1: the nonce parameter is n_C = b64u of exactly 16 bytes, in its one encoding.
    m('nonce of 12 bytes', (r) => nonceParam(r, b64u.encode(det('short nonce', 12))), 'malformed'),
    m('nonce of 24 bytes', (r) => nonceParam(r, b64u.encode(det('long nonce', 24))), 'malformed'),
    m('nonce with nonzero trailing bits', (r) => nonceParam(r, b64u.encode(det('nonce bits', 16)).slice(0, 21) + 'B'), 'malformed'),
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
  const bob = [...records.values()].find((r) => r.chain)!;
  const bobAlias = bob.alias;
  const sddp = await deliveryRun('sddp get', 'sddp', { alias: alice.alias });
  const sddpPost = await deliveryRun('sddp post with a body', 'sddp', { alias: alice.alias, body: '{"add":"LU"}' });
  // The application set Content-Type text/plain on its 204: covered as sent, though the plaintext is empty (§6.3).
  const sddp204 = await deliveryRun('sddp delete answered 204: the seal in Janus-Sealed', 'sddp', { alias: alice.alias, method: 'DELETE', status: 204, contentType: 'text/plain' });
  const sddpErr = await deliveryRun('sddp put refused by the application: a sealed error with covered Janus-Error', 'sddp', {
    alias: alice.alias,
    method: 'PUT',
    body: '{"watchlist":"LU"}',
    appError: new JanusError('malformed', 'watchlist: send a list of symbols'),
  });
  const aliceAckRefused = await refusedRun('sddp with a signed Janus-Ack', 'sddp put refused by the application: a sealed error with covered Janus-Error', 'sddp', { alias: alice.alias }, 'malformed', 'an acknowledgement goes only to eddp+receipts routes, the ack endpoint and a rotation (§11.2)', [[HEADER.ack, `${b64u.encode(det('some sub', 16))}.1.${b64u.encode(det('some word', 32))}`]]);
  const sddpBad = [
    await badAnswer('a sealed ack_required on an SDDP route', sddp, { status: 402, covered: [[HEADER.error, 'ack_required']] }, 'malformed', 'only an eddp+receipts route refuses a delivery (§6.3)'),
    await badAnswer('a sealed Janus-Error with another status than its code\'s', sddp, { status: 200, covered: [[HEADER.error, 'malformed']] }, 'malformed', 'malformed is 400 (§14.1)'),
    await badAnswer('a sealed Janus-Error that is no code', sddp, { status: 400, covered: [[HEADER.error, 'oops']] }, 'malformed', 'not a code of §14.1'),
  ];
  write('sddp.json', {
    description:
      'docs/PROTOCOL.md §6 and §8: SDDP requests and responses (the third answers 204: its seal is in Janus-Sealed, §6.3; its application set Content-Type text/plain, which is covered as sent; the fourth is refused by the application: a sealed error whose Janus-Error is covered); invalid: mutated requests with the error the vendor must answer, and a signed request the vendor must refuse (vendor: skep.json, client records: the SKEP runs; vendor time = now); invalid_responses: answers to the request of the named run, sealed under its key, that the client must refuse after opening them.',
    vendor: vendorJson,
    runs: [sddp, sddpPost, sddp204, sddpErr],
    invalid: [...mutations(fromWireReq(sddpPost.request), 'sddp'), { name: aliceAckRefused.name, request: aliceAckRefused.request, error: aliceAckRefused.error, why: aliceAckRefused.why }],
    invalid_responses: sddpBad,
  });

  const c1 = issueChallenge(vk.ck, ORIGIN, alice.alias, NOW, det('challenge r', 16));
  const e1 = await deliveryRun('eddp first', 'eddp', { alias: alice.alias, challenge: c1.challenge });
  const e2 = await deliveryRun('eddp piggybacked', 'eddp', { alias: alice.alias, challenge: e1.response.headers['janus-challenge'] });
  const eAck = await refusedRun('eddp with a signed Janus-Ack', 'eddp piggybacked', 'eddp', { alias: alice.alias, challenge: e2.response.headers['janus-challenge'] }, 'malformed', 'an acknowledgement goes only to eddp+receipts routes, the ack endpoint and a rotation (§11.2)', [[HEADER.ack, `${b64u.encode(det('some sub', 16))}.1.${b64u.encode(det('some word', 32))}`]]);
  const cb = issueChallenge(vk.ck, ORIGIN, bobAlias, NOW, det('bob challenge r', 16));
  const next = (run: { response: { headers: Record<string, string> } }) => run.response.headers['janus-challenge']!;
  const r1 = await deliveryRun('eddp+receipts delivery 1', 'eddp+receipts', { alias: bobAlias, challenge: cb.challenge });
  const r2 = await deliveryRun('eddp+receipts delivery 2 acknowledging 1', 'eddp+receipts', { alias: bobAlias, challenge: next(r1), ack: { i: 1 } });
  const r3 = await deliveryRun('eddp+receipts before acknowledging 2: the sealed ack_required', 'eddp+receipts', { alias: bobAlias, challenge: next(r2) });
  const refusedAfter3 = [
    await refusedRun('a challenge used before, with a wrong acknowledgement', r3.name, 'eddp+receipts', { alias: bobAlias, challenge: cb.challenge, ack: { i: 2, w: new Uint8Array(32) } }, 'bad_ack', 'the acknowledgement is checked before the one-time values are recorded (§6.2 steps 10-11)'),
    await refusedRun('a challenge used before, with a valid acknowledgement', r3.name, 'eddp+receipts', { alias: bobAlias, challenge: cb.challenge, ack: { i: 2 } }, 'replayed', 'a request refused with an unsealed error stores nothing: delivery 2 stays unacknowledged (run 5 acknowledges it)'),
    await refusedRun('an acknowledgement of a delivery not made yet', r3.name, 'eddp+receipts', { alias: bobAlias, challenge: next(r3), ack: { i: 3, w: paywordWord(bob.k, bob.chain!.sub, bob.chain!.n, 3) } }, 'bad_ack', 'i > delivered (§11.2)'),
    await refusedRun('an acknowledgement of i = 0', r3.name, 'eddp+receipts', { alias: bobAlias, challenge: next(r3) }, 'malformed', 'i is 1..100000 (§11.2)', [[HEADER.ack, `${bob.chain!.sub}.0.${bob.chain!.w0}`]]),
  ];
  // The application answers 404: no delivery, no Janus-Receipt, nothing counted; the acknowledgement is stored.
  const r4 = await deliveryRun('eddp+receipts acknowledging 2, answered 404 by the application: no delivery', 'eddp+receipts', { alias: bobAlias, challenge: next(r3), ack: { i: 2 }, status: 404, answer: '{"error":"no such symbol"}' });
  // The same acknowledgement again (the client cannot always tell whether it arrived): accepted, unchanged.
  const r5 = await deliveryRun('eddp+receipts acknowledging 2 again: delivery 3', 'eddp+receipts', { alias: bobAlias, challenge: next(r4), ack: { i: 2 } });
  const refusedAfter5 = [await refusedRun('an acknowledgement older than the last one acknowledged', r5.name, 'eddp+receipts', { alias: bobAlias, challenge: next(r5), ack: { i: 1 } }, 'replayed', 'i < a (§11.2)')];
  const r6 = await deliveryRun('eddp+receipts delivery 4 acknowledging 3', 'eddp+receipts', { alias: bobAlias, challenge: next(r5), ack: { i: 3 } });
  const r7 = await deliveryRun('eddp+receipts acknowledging 4, the last: the sealed chain_exhausted', 'eddp+receipts', { alias: bobAlias, challenge: next(r6), ack: { i: 4 } });
  const receiptOf = (run: { response: { headers: Record<string, string> } }) => run.response.headers['janus-receipt']!;
  const eddpBad = [
    await badAnswer('a 200 on an eddp+receipts route without Janus-Receipt', r1, { status: 200, covered: [[HEADER.challenge, next(r1)]] }, 'malformed', 'a 2xx answer is a delivery and names itself (§11.2)'),
    await badAnswer('Janus-Receipt on a 404', r4, { status: 404, covered: [[HEADER.challenge, next(r4)], [HEADER.receipt, receiptOf(r5)]] }, 'malformed', 'an answer that is not 2xx is no delivery (§11.2)'),
    await badAnswer('a sealed ack_required without Janus-Receipt', r3, { status: 402, covered: [[HEADER.challenge, next(r3)], [HEADER.error, 'ack_required']] }, 'malformed', 'it names the delivery waiting (§11.2)'),
    await badAnswer('Janus-Receipt on a sealed chain_exhausted', r7, { status: 402, covered: [[HEADER.challenge, next(r7)], [HEADER.receipt, receiptOf(r6)], [HEADER.error, 'chain_exhausted']] }, 'malformed', 'only a delivery and ack_required carry a mark (§11.2)'),
    await badAnswer('an EDDP answer without its next challenge', e1, { status: 200, covered: [] }, 'malformed', 'every sealed EDDP answer carries one (§9.2)'),
  ];
  write('eddp.json', {
    description:
      'docs/PROTOCOL.md §9 and §11: EDDP with a challenge, with the piggybacked challenge, and a chain of 4 deliveries on an eddp+receipts route: deliveries with acknowledgements, the sealed 402 ack_required, an application 404 (no delivery, its acknowledgement stored), the same acknowledgement sent again, and the sealed 402 chain_exhausted that stores the last acknowledgement. Runs are in order; each eddp+receipts run gives the chain after it (chain_after). refused: signed requests sent after the named run, with the error each must get; they store nothing. invalid_responses: answers to the request of the named run, sealed under its key, that the client must refuse. The challenge key ck is in vendor.',
    vendor: vendorJson,
    challenges: [
      { alias: alice.alias, now: NOW, r: toHex(det('challenge r', 16)), challenge: c1.challenge, expires: c1.expires },
      { alias: bobAlias, now: NOW, r: toHex(det('bob challenge r', 16)), challenge: cb.challenge, expires: cb.expires },
    ],
    invalid_challenges: [
      { alias: bobAlias, challenge: c1.challenge, now: NOW, error: 'challenge_invalid', why: 'issued to another alias' },
      { alias: alice.alias, challenge: c1.challenge, now: NOW + 121, error: 'challenge_invalid', why: 'expired' },
    ],
    runs: [e1, e2, r1, r2, r3, r4, r5, r6, r7],
    refused: [eAck, ...refusedAfter3, ...refusedAfter5],
    invalid: mutations(fromWireReq(e2.request), 'eddp'),
    invalid_responses: eddpBad,
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
  const w = (i: number) => b64u.encode(fromHex(c.words[i]!));
  const state = (delivered: number, acked: number) => ({ sub: c.sub, n: c.n, w0: w(0), delivered, acked, acked_w: w(acked) });
  const check = (header: string, chain: ReturnType<typeof state>, why: string) => {
    const cs: ChainState = { sub: chain.sub, n: chain.n, w0: chain.w0, delivered: chain.delivered, acked: chain.acked, ackedW: chain.acked_w };
    try {
      const after = applyAck(cs, parseAck(header));
      return { header, chain, why, accepted: { acked: after.acked, acked_w: after.ackedW } };
    } catch (e) {
      if (!(e instanceof JanusError)) throw e;
      return { header, chain, why, error: e.code };
    }
  };
  const ack = (i: number) => `${c.sub}.${i}.${w(i)}`;
  write('payword.json', {
    description:
      'docs/PROTOCOL.md §11: seeds r = w_N and chains w_0..w_N (w_{i-1} = SHA256(w_i)), acknowledgement headers, and acknowledgements checked against a stored chain (words in b64u as stored; accepted: the chain after, or the error, §11.2).',
    chains,
    acks: [1, 2].map((i) => ({ sub: c.sub, i, header: formatAck({ sub: c.sub, i, w: fromHex(c.words[i]!) }) })),
    ack_checks: [
      check(ack(1), state(1, 0), 'the first acknowledgement'),
      check(ack(3), state(3, 1), 'several deliveries at once: SHA256^(i-a)(w_i) = w_a'),
      check(ack(2), state(2, 2), 'i = a with the stored word: accepted again, unchanged'),
      check(`${c.sub}.2.${b64u.encode(new Uint8Array(32))}`, state(2, 2), 'i = a with another word'),
      check(ack(1), state(3, 2), 'i < a'),
      check(`${c.sub}.1.${b64u.encode(new Uint8Array(32))}`, state(1, 0), 'a wrong word'),
      check(ack(2), state(1, 0), 'i > delivered'),
      check(`${chains[0]!.sub}.1.${b64u.encode(fromHex(chains[0]!.words[1]!))}`, state(1, 0), 'another chain'),
    ],
    invalid_acks: [
      { header: `${c.sub}.0.${w(0)}`, error: 'malformed', why: 'i = 0: no delivery 0 exists' },
      { header: `${c.sub}.01.${w(1)}`, error: 'malformed', why: 'a leading zero' },
      { header: `${c.sub}.100001.${w(1)}`, error: 'malformed', why: 'i > 100000' },
      { header: `${c.sub}.1`, error: 'malformed', why: 'no word' },
      { header: `${c.sub}.1.${w(1).slice(0, 42)}B`, error: 'malformed', why: 'the word is not canonical base64url' },
    ],
  });
}

// rotate.json (§13)
{
  const prevRot = previous('rotate.json');
  const bobRec = [...records.values()].find((r) => r.chain)!;
  // Bob's record as the rotation runs find it: delivery 2 of 4 made, 1 acknowledged.
  const bobWords = (i: number) => paywordWord(bobRec.k, bobRec.chain!.sub, bobRec.chain!.n, i);
  const bobPending: ClientRecord = { ...skepRecords.get(bobRec.alias)!, chain: { ...bobRec.chain!, delivered: 2, acked: 1, ackedW: b64u.encode(bobWords(1)) }, closedChains: [] };
  const aliceStart = skepRecords.get(alice.alias)!;
  const clientOf = (identity: string, secret: string, st: { idC: string; master: Uint8Array }, s: { alias: string; gen: number; k: Uint8Array }): StretchedClientVector => ({
    identity,
    secret,
    params: SMALL_ARGON2,
    id_c: st.idC,
    master: toHex(st.master),
    alias: s.alias,
    gen: s.gen,
    k: toHex(s.k),
  });
  const recordJson = (r: ClientRecord): RecordVector => ({ alias: r.alias, gen: r.gen, chain: chainOrNull(r.chain), closed_chains: r.closedChains.map(chainJson), receipt: r.receipt !== null });

  /**
   * A rotation request. Its body holds an RSA-OAEP ciphertext (randomized), so the recorded request
   * is kept while it is still the request this input makes: it verifies under the old key, its
   * plaintext has the same members but `ek`, and `ek` decrypts to the key transport plaintext.
   */
  async function rotationRequest(name: string, rec: ClientRecord, input: Parameters<typeof rotateStart>[0], section: 'runs' | 'invalid'): Promise<{ request: HttpRequestMsg; state: Awaited<ReturnType<typeof rotateStart>>['state'] }> {
    const start = await rotateStart(input);
    const prevRun = prevRot?.[section].find((r) => r.name === name);
    if (!prevRun) return start;
    const kept: HttpRequestMsg = { ...start.request, headers: prevRun.request.headers, body: fromHex(prevRun.request.body) };
    const open = async (r: HttpRequestMsg) => JSON.parse(fromUtf8((await verifySecureRequest(parseRotate(vk, r, NOW), r, rec.k, { window: vk.window })).plaintext)) as Record<string, unknown>;
    try {
      const [a, b] = [await open(kept), await open(start.request)];
      const strip = (o: Record<string, unknown>) => JSON.stringify({ ...o, ek: null });
      const pt = await oaepDecrypt(vk.pkcs8, b64u.decode(a['ek'] as string), utf8(`janus/1 rotate ${ORIGIN}`));
      const same = strip(a) === strip(b) && toHex(pt) === toHex(keyTransportPlaintext(input.next.k, input.fixed!.nonce!, input.next.gen, input.next.alias));
      const sameHead = Object.keys(start.request.headers).every((h) => h === 'signature' || h === 'content-digest' || kept.headers[h] === start.request.headers[h]);
      if (same && sameHead) {
        // The client state of the kept request: its plaintext's digest is what the receipt commits to.
        const plaintext = (await verifySecureRequest(parseRotate(vk, kept, NOW), kept, rec.k, { window: vk.window })).plaintext;
        return { request: kept, state: { ...start.state, requestSha256: b64u.encode(sha256(plaintext)) } };
      }
    } catch {
      // made again
    }
    return start;
  }

  const runs: RotateRunVector[] = [];
  const aliceSt = await stretchSecret('alice@example.org', 'correct horse battery staple', { params: SMALL_ARGON2 });
  const bobSt = await stretchSecret('bob@example.org', 'correct horse battery staple', { params: SMALL_ARGON2 });
  const cases: { name: string; who: 'alice' | 'bob'; newSecret: string; gen: number; remaining?: number; ack?: number; description: string }[] = [
    { name: 'generation rotation', who: 'alice', newSecret: 'correct horse battery staple', gen: 1, description: 'same secret, gen 0 -> 1; no receipt chain' },
    { name: 'secret change', who: 'alice', newSecret: 'a new secret', gen: 0, description: 'a new secret: new alias at gen 0; no receipt chain' },
    { name: 'rotation before the delivery waiting is acknowledged: the sealed ack_required', who: 'bob', newSecret: 'correct horse battery staple', gen: 1, remaining: 2, description: 'delivery 2 is not acknowledged: a sealed 402 under the OLD key; the nonce is recorded, nothing else changes, no RSA work' },
    { name: 'rotation carrying the acknowledgement: the old chain closed, the rest committed anew', who: 'bob', newSecret: 'correct horse battery staple', gen: 1, remaining: 2, ack: 2, description: 'Janus-Ack of delivery 2 settles the old chain, which is closed; a new chain of 4 - 2 = 2 deliveries with a fresh sub; a new receipt (randomized: RSA-PSS)' },
  ];
  for (const cs of cases) {
    const rec = cs.who === 'alice' ? aliceStart : bobPending;
    const st0 = cs.who === 'alice' ? aliceSt : bobSt;
    const identity = cs.who === 'alice' ? 'alice@example.org' : 'bob@example.org';
    const old = { idV: ORIGIN, alias: rec.alias, gen: rec.gen, k: rec.k };
    const st = await stretchSecret(identity, cs.newSecret, { params: SMALL_ARGON2 });
    const nextS = vendorSession(st.master, st.idC, ORIGIN, cs.gen);
    const ack = cs.ack ? { sub: rec.chain!.sub, i: cs.ack, w: bobWords(cs.ack) } : undefined;
    const input = { old, next: nextS, discovery, now: NOW, ...(cs.remaining ? { remaining: cs.remaining } : {}), ...(ack ? { ack } : {}), fixed: { nonce: det(`${cs.name} nonce`, 16), bodyIv: det(`${cs.name} body iv`, 12), sub: b64u.encode(det(`${cs.name} sub`, 16)) } };
    const { request, state } = await rotationRequest(cs.name, rec, input, 'runs');
    const out = await vendorRotate(vk, parseRotate(vk, request, NOW), request, rec, NOW, { bodyIv: det(`${cs.name} response iv`, 12) });
    let response = out.response;
    const prevRun = prevRot?.runs.find((r) => r.name === cs.name);
    // A receipt is randomized (RSA-PSS): kept from the previous file while it still opens and verifies.
    if (prevRun && rec.receipt && out.rotated) {
      const kept = fromWireRes(prevRun.response);
      if (await rotateOnResponse(state, kept).then(() => true, () => false)) response = kept;
    }
    const client: RotateClientResultVector = await rotateOnResponse(state, response).then(
      (r) => ({ alias: r.alias, gen: r.gen, payword: r.payword, receipt: r.receipt !== null }),
      (e: unknown) => {
        if (!(e instanceof JanusError)) throw e;
        return { error: e.code, details: e.details };
      },
    );
    runs.push({
      name: cs.name,
      description: cs.description,
      old: clientOf(identity, 'correct horse battery staple', st0, old),
      next: clientOf(identity, cs.newSecret, st, nextS),
      record: recordJson(rec),
      now: NOW,
      fixed: { nonce: toHex(det(`${cs.name} nonce`, 16)), body_iv: toHex(det(`${cs.name} body iv`, 12)), response_iv: toHex(det(`${cs.name} response iv`, 12)), sub: b64u.encode(det(`${cs.name} sub`, 16)) },
      oaep_plaintext: toHex(keyTransportPlaintext(nextS.k, det(`${cs.name} nonce`, 16), nextS.gen, nextS.alias)),
      request: wireReq(request),
      response: wireRes(response),
      rotated: out.rotated,
      record_after: recordJson(out.record),
      client_result: client,
      randomized: ['request (its encrypted body holds an RSA-OAEP ciphertext)', ...(rec.receipt && out.rotated ? ['response (its body holds an RSA-PSS receipt)'] : [])],
    });
  }

  const bobSettled = { ...bobPending };
  const invalidCases: { name: string; rec: ClientRecord; remaining?: number; ack?: Ack; sub?: string; error: ErrorCode; why: string }[] = [
    { name: 'a new chain reusing the old chain\'s sub', rec: bobSettled, remaining: 2, ack: { sub: bobRec.chain!.sub, i: 2, w: bobWords(2) }, sub: bobRec.chain!.sub, error: 'chain_reused', why: 'a chain is identified by its record and its sub: the record used it (§13)' },
    { name: 'a new chain reusing a closed chain\'s sub', rec: { ...bobPending, chain: { ...bobPending.chain!, acked: 2, ackedW: b64u.encode(bobWords(2)) }, closedChains: [{ sub: b64u.encode(det('closed sub', 16)), n: 6, w0: b64u.encode(det('closed w0', 32)), delivered: 2, acked: 2, ackedW: b64u.encode(det('closed w2', 32)) }] }, remaining: 2, sub: b64u.encode(det('closed sub', 16)), error: 'chain_reused', why: 'closed chains are kept, their subs too (§13)' },
    { name: 'a new chain of the wrong length', rec: bobSettled, remaining: 3, ack: { sub: bobRec.chain!.sub, i: 2, w: bobWords(2) }, error: 'malformed', why: 'n must be N - delivered = 2 (§13)' },
    { name: 'no new chain for an open chain', rec: bobSettled, ack: { sub: bobRec.chain!.sub, i: 2, w: bobWords(2) }, error: 'malformed', why: 'the record has deliveries left (§13)' },
    { name: 'a new chain for a record without an open chain', rec: aliceStart, remaining: 3, error: 'malformed', why: 'payword must be null (§13)' },
    { name: 'an acknowledgement that does not verify', rec: bobPending, remaining: 2, ack: { sub: bobRec.chain!.sub, i: 2, w: new Uint8Array(32) }, error: 'bad_ack', why: '§11.2, checked before the chain rules' },
    { name: 'an acknowledgement for a record without a chain', rec: aliceStart, ack: { sub: bobRec.chain!.sub, i: 1, w: bobWords(1) }, error: 'bad_ack', why: '§11.2' },
  ];
  const invalid: InvalidRotationVector[] = [];
  for (const cs of invalidCases) {
    const rec = cs.rec;
    const isBob = rec.alias === bobRec.alias;
    const old = { idV: ORIGIN, alias: rec.alias, gen: rec.gen, k: rec.k };
    const nextS = vendorSession(isBob ? bobSt.master : aliceSt.master, isBob ? bobSt.idC : aliceSt.idC, ORIGIN, 1);
    const input = { old, next: nextS, discovery, now: NOW, ...(cs.remaining ? { remaining: cs.remaining } : {}), ...(cs.ack ? { ack: cs.ack } : {}), fixed: { nonce: det(`${cs.name} nonce`, 16), bodyIv: det(`${cs.name} body iv`, 12), sub: cs.sub ?? b64u.encode(det(`${cs.name} sub`, 16)) } };
    const { request } = await rotationRequest(cs.name, rec, input, 'invalid');
    const got = await vendorRotate(vk, parseRotate(vk, request, NOW), request, rec, NOW).then(() => 'no error', (e: unknown) => (e instanceof JanusError ? e.code : 'throw'));
    if (got !== cs.error) throw new Error(`${cs.name}: got ${got}, want ${cs.error}`);
    invalid.push({ name: cs.name, why: cs.why, record: recordJson(rec), old: { alias: old.alias, gen: old.gen, k: toHex(old.k) }, request: wireReq(request), error: cs.error });
  }
  const refusedRun = runs.find((r) => !r.rotated)!;
  const badRotate = await (async (): Promise<InvalidResponseVector> => {
    const req = fromWireReq(refusedRun.request);
    const parsed = parseRotate(vk, req, NOW);
    const name = 'a sealed rotation refusal other than ack_required';
    const response = await sealResponse(parsed, slotKey(bobPending.k, parsed.n), {
      status: 402,
      contentType: 'application/json',
      covered: [[HEADER.receipt, refusedRun.response.headers['janus-receipt']!], [HEADER.error, 'chain_exhausted']],
      body: utf8('{}'),
      bodyIv: det(`${name} iv`, 12),
    });
    return { name, answers: refusedRun.name, why: 'a rotation is refused sealed only with ack_required (§13)', response: wireRes(response), error: 'malformed' };
  })();
  write('rotate.json', {
    description:
      'docs/PROTOCOL.md §13: rotations of the SKEP runs\' records (alice: "skep"; bob: "non-repudiation skep with a payword chain", with the chain state given in record). old and next give the identity, secret and Argon2id parameters each key comes from (§3). A successful response is under the new key; the sealed ack_required under the old key. invalid: signed rotation requests the vendor must refuse before any RSA work, with their error.',
    vendor: vendorJson,
    runs,
    invalid,
    invalid_responses: [badRotate],
  });
}

// routes.json (§5, §5.1)
{
  const routes: Route[] = [
    { path: '/api/watchlist', methods: ['GET', 'PUT'], level: 'sddp' },
    { path: '/api/intraday/*', methods: ['GET'], level: 'eddp+receipts' },
    { path: '/api/notes', methods: null, level: 'eddp' },
    { path: '/', methods: null, level: 'credential' },
    { path: '/account/*', methods: null, level: 'credential' },
  ];
  const table = new RouteTable(routes);
  const cases = [
    ['GET', '/api/watchlist'],
    ['PUT', '/api/watchlist?x=1'],
    ['DELETE', '/api/watchlist'],
    ['HEAD', '/api/watchlist'],
    ['POST', '/api/intraday/LU'],
    ['GET', '/api/intraday/LU'],
    ['GET', '/api/intraday'],
    ['GET', '/API/Watchlist/'],
    ['GET', '/api/%77atchlist'],
    ['GET', '/api/x/../watchlist'],
    ['GET', '/api/%2e%2e/api/watchlist'],
    ['GET', '/api%2Fwatchlist'],
    ['GET', '/api/intraday;x/LU'],
    ['GET', '//api/watchlist'],
    ['GET', '/api\\watchlist'],
    ['GET', '/api/%252Fwatchlist'],
    ['DELETE', '/api/notes'],
    ['GET', 'https://quotes.example/api/watchlist'],
    ['GET', '/account/settings'],
    ['GET', '/account;x/settings'],
    ['GET', '/other'],
  ] as const;
  write('routes.json', {
    description:
      'docs/PROTOCOL.md §5.1: how a vendor matches a request (method and request-target as received) to its routes, case-insensitive paths (the default). verdict: "protected" (the route and its level), "app" (the site\'s own request: a credential route or none; path is what is passed on), or "refused" with the error and status every request gets, signed or not (a 405 carries Allow).',
    routes,
    cases: cases.map(([method, target]) => {
      const split = splitTarget(target)!;
      const canonical = canonicalPath(split.path);
      const m = table.match(split.path, method);
      const v = m.verdict;
      const verdict = routeVerdictVector(v, canonical + split.query);
      return { method, target, canonical, ...verdict };
    }),
  });
}
