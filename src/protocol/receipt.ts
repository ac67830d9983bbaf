/** Receipts: the vendor's signature on a subscription (paper Fig. 2, §5; docs/PROTOCOL.md §12). */
import { b64u, concat, utf8 } from '../crypto/bytes.ts';
import { pssSign, pssVerify, spkiFingerprint } from '../crypto/rsa.ts';
import { guardAsync, JanusError } from '../errors.ts';
import { LABEL, VERSION } from './constants.ts';
import { field, jsonBytes, parseJsonObject, type JsonObject } from './http.ts';
import { parseCommitment, type PaywordCommitment } from './payword.ts';

export interface Receipt {
  readonly alg: 'PS256';
  readonly payload: string;
  readonly sig: string;
  readonly fingerprint: string;
}

export interface ReceiptPayload {
  readonly v: number;
  readonly vendor: string;
  readonly alias: string;
  readonly gen: number;
  readonly issued_at: number;
  readonly nonce: string;
  readonly request_sha256: string;
  readonly valid_from: number;
  readonly valid_until: number | null;
  readonly payword: PaywordCommitment | null;
  readonly terms: JsonObject;
}

/** §7.5/§12.2: every way a receipt can be wrong is `bad_receipt`, whatever the inner check called it. */
function asBadReceipt<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof JanusError && e.code === 'bad_receipt') throw e;
    throw new JanusError('bad_receipt', e instanceof Error ? e.message : undefined, undefined, { cause: e });
  }
}

function signedBytes(payload: Uint8Array): Uint8Array {
  return concat(utf8(LABEL.receipt), new Uint8Array([0]), payload);
}

export async function signReceipt(pkcs8: Uint8Array, spki: Uint8Array, payload: ReceiptPayload): Promise<Receipt> {
  const bytes = jsonBytes(payload);
  const sig = await pssSign(pkcs8, signedBytes(bytes));
  return { alg: 'PS256', payload: b64u.encode(bytes), sig: b64u.encode(sig), fingerprint: spkiFingerprint(spki) };
}

export function parseReceipt(v: unknown): Receipt {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new JanusError('bad_receipt', 'a receipt must be an object');
  const o = v as JsonObject;
  return asBadReceipt(() => {
    if (o['alg'] !== 'PS256') throw new JanusError('bad_receipt', 'receipt alg must be PS256');
    return {
      alg: 'PS256' as const,
      payload: field.str(o, 'payload', { max: 65536, re: /^[A-Za-z0-9_-]*$/ }),
      sig: field.str(o, 'sig', { max: 2048, re: /^[A-Za-z0-9_-]*$/ }),
      fingerprint: field.str(o, 'fingerprint', { re: /^[A-Za-z0-9_-]{43}$/ }),
    };
  });
}

function parsePayload(bytes: Uint8Array): ReceiptPayload {
  return asBadReceipt(() => {
    const o = parseJsonObject(bytes, 65536, 'receipt payload');
    const pw = field.objOrNull(o, 'payword');
    return {
      v: field.int(o, 'v'),
      vendor: field.str(o, 'vendor'),
      alias: field.str(o, 'alias'),
      gen: field.int(o, 'gen'),
      issued_at: field.int(o, 'issued_at'),
      nonce: field.str(o, 'nonce'),
      request_sha256: field.str(o, 'request_sha256'),
      valid_from: field.int(o, 'valid_from'),
      valid_until: field.intOrNull(o, 'valid_until'),
      payword: pw ? parseCommitment(pw) : null,
      terms: field.objOrNull(o, 'terms') ?? {},
    };
  });
}

/** §12.2: anyone with the vendor's public key can run this (the third party of paper §5). */
export async function verifyReceipt(receipt: Receipt, spki: Uint8Array): Promise<ReceiptPayload> {
  if (receipt.fingerprint !== spkiFingerprint(spki)) throw new JanusError('bad_receipt', 'the receipt names another vendor key');
  const payload = asBadReceipt(() => b64u.decode(receipt.payload));
  const sig = asBadReceipt(() => b64u.decode(receipt.sig));
  const ok = await guardAsync('bad_receipt', () => pssVerify(spki, signedBytes(payload), sig));
  if (!ok) throw new JanusError('bad_receipt', "the vendor's signature does not verify");
  const p = parsePayload(payload);
  if (p.v !== VERSION) throw new JanusError('bad_receipt', `receipt version ${p.v}`);
  return p;
}

/** §12.2, client: the receipt is about what this client sent to this vendor. */
export function checkReceiptMatches(
  p: ReceiptPayload,
  want: { idV: string; alias: string; gen: number; nonce: string; requestSha256: string; payword: PaywordCommitment | null },
): void {
  const bad = (what: string) => new JanusError('bad_receipt', `the receipt's ${what} does not match`);
  if (p.vendor !== want.idV) throw bad('vendor');
  if (p.alias !== want.alias || p.gen !== want.gen) throw bad('alias');
  if (p.nonce !== want.nonce) throw bad('nonce');
  if (p.request_sha256 !== want.requestSha256) throw bad('subscription data digest');
  const a = p.payword;
  const b = want.payword;
  if ((a === null) !== (b === null) || (a && b && (a.sub !== b.sub || a.n !== b.n || a.w0 !== b.w0))) throw bad('receipt chain');
}
