/**
 * What the user agreed to and paid for, per site (the options page's receipts view): the signed
 * subscription receipts (docs/PROTOCOL.md §12) checked against the site's pinned key, and the
 * PayWord chain (§11: its length, deliveries received, acknowledged). The export is one file a third
 * party checks with `janus-vendor verify-receipt --cert <key> [--word i:w_i] <file>` (docs/CLI.md):
 * it carries the receipts, the site's public key, and the last word this client revealed (never a
 * later one: that would acknowledge deliveries not received).
 */
import { b64u, fromUtf8 } from '../crypto/bytes.ts';
import { parseVendorPublicKey, spkiFingerprint } from '../crypto/rsa.ts';
import { JanusError, parseReceipt, verifyReceipt, type ReceiptPayload } from '../protocol/index.ts';
import type { Evidence, ReceiptView } from '../shared-ext/types.ts';
import { vendorsItem } from '../shared-ext/storage.ts';
import type { VendorEntry } from '../shared-ext/types.ts';
import { pinnedDiscovery } from './discovery.ts';
import { chainFor } from './keys.ts';

/** The site's public key: from the entry (saved at registration), else its pinned discovery document. */
async function spkiOf(entry: VendorEntry): Promise<Uint8Array | null> {
  if (entry.spki) {
    const spki = b64u.decode(entry.spki);
    if (spkiFingerprint(spki) === entry.fingerprint) return spki;
  }
  try {
    return (await pinnedDiscovery(entry.origin)).key.spki;
  } catch {
    return null;
  }
}

async function view(receipt: unknown, spki: Uint8Array | null): Promise<ReceiptView> {
  let payload: ReceiptPayload | null = null;
  try {
    const r = parseReceipt(receipt);
    const raw = JSON.parse(fromUtf8(b64u.decode(r.payload))) as ReceiptPayload;
    payload = raw;
    if (!spki) return { receipt, payload, verified: null, reason: "the site's key could not be fetched to check the signature now", signer: r.fingerprint };
    payload = await verifyReceipt(r, spki);
    return { receipt, payload, verified: true, reason: null, signer: r.fingerprint };
  } catch (e) {
    return { receipt, payload, verified: false, reason: e instanceof Error ? e.message : String(e), signer: null };
  }
}

export async function evidenceOf(idV: string): Promise<Evidence> {
  const entry = (await vendorsItem.get())[idV];
  if (!entry) throw new JanusError('not_registered', `${idV} is not in your list`);
  const spki = await spkiOf(entry);
  const receipts = await Promise.all(entry.receipts.map((r) => view(r, spki)));
  const c = entry.chain;
  return {
    origin: idV,
    name: entry.name,
    key: { fingerprint: entry.fingerprint, spki: spki ? b64u.encode(spki) : null },
    receipts,
    chain: c ? { sub: c.sub, n: c.n, delivered: entry.lastDelivery?.sub === c.sub ? entry.lastDelivery.i : 0, acknowledged: entry.lastAcked } : null,
    subscription: entry.subscription,
    validUntil: entry.validUntil,
  };
}

/**
 * The file to hand a third party: `receipt` (the latest, which `verify-receipt` reads), all of
 * them, the site's key, and the last acknowledged word of the current chain.
 */
export async function exportEvidence(idV: string): Promise<Record<string, unknown>> {
  const entry = (await vendorsItem.get())[idV];
  if (!entry) throw new JanusError('not_registered', `${idV} is not in your list`);
  if (entry.receipts.length === 0) throw new JanusError('bad_input', 'this site gave you no signed receipt');
  const spki = await spkiOf(entry);
  const c = entry.chain;
  let word: { i: number; w: string } | null = null;
  if (c && entry.lastAcked > 0) word = { i: entry.lastAcked, w: b64u.encode((await chainFor(idV, entry.gen, c.sub, c.n)).word(entry.lastAcked)) };
  return {
    janus: 'evidence',
    version: 1,
    vendor: idV,
    exportedAt: new Date().toISOString(),
    key: { fingerprint: entry.fingerprint, spki: spki ? b64u.encode(spki) : null, bits: spki ? parseVendorPublicKey({ spki: b64u.encode(spki) }).modulusBits : null },
    receipt: entry.receipts.at(-1),
    receipts: entry.receipts,
    payword: c ? { sub: c.sub, n: c.n, w0: c.w0, acknowledged: word } : null,
  };
}
