/** The vendor's client record and the vendor's key material (docs/PROTOCOL.md §7.3). */
import { JanusError } from '../errors.ts';
import type { JsonObject } from './http.ts';
import type { ChainState } from './payword.ts';
import type { Receipt } from './receipt.ts';
import type { ReceiptPolicy } from './discovery.ts';

/** What a vendor stores per client. The SDK encrypts `k` at rest; the protocol core sees it plain. */
export interface ClientRecord {
  readonly alias: string;
  readonly gen: number;
  readonly k: Uint8Array;
  readonly data: JsonObject;
  readonly registeredAt: number;
  readonly validFrom: number;
  readonly validUntil: number | null;
  readonly chain: ChainState | null;
  /** Chains closed by a key rotation (§13): their last acknowledgement stays the vendor's proof. */
  readonly closedChains: readonly ChainState[];
  readonly receipt: Receipt | null;
  readonly updatedAt: number;
}

/** The vendor's own secrets and settings; shared by all of its instances. */
export interface VendorKeys {
  readonly idV: string;
  readonly spki: Uint8Array;
  readonly pkcs8: Uint8Array;
  /** SKEP token key (§7.2). */
  readonly tk: Uint8Array;
  /** EDDP challenge key (§9.1). */
  readonly ck: Uint8Array;
  readonly window: number;
  readonly receipt: ReceiptPolicy;
}

/** The vendor's decision about subscription data (§7.4): validity and the receipt's terms. */
export interface SubscriptionTerms {
  validFrom: number;
  validUntil: number | null;
  terms: JsonObject;
  /** What the vendor keeps of `data_C` (e.g. without the card number); default: all of it. */
  keep?: JsonObject;
}

/** Judges `data_C`; throws JanusError('malformed', ...) naming the member it cannot accept. */
export type SubscribePolicy = (data: JsonObject, now: number) => SubscriptionTerms;

export const defaultPolicy: SubscribePolicy = (_data, now) => ({ validFrom: now, validUntil: null, terms: {} });

/** Paper §3: "if data_C assures validity". */
export function assertInGoodStanding(r: ClientRecord, now: number): void {
  if (now < r.validFrom || (r.validUntil !== null && now >= r.validUntil)) {
    throw new JanusError('subscription_expired', undefined, { valid_from: r.validFrom, valid_until: r.validUntil });
  }
}
