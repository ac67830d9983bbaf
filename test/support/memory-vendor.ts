/**
 * A vendor made only of the protocol core's vendor functions, a Map of client records and a Map of
 * used one-time values: the in-memory peer for protocol tests and vectors (the real vendor SDK with
 * its SQLite store is src/server/).
 */
import { b64u, randomBytes } from '../../src/crypto/bytes.ts';
import { generateVendorKeyPair, spkiFingerprint } from '../../src/crypto/rsa.ts';
import { JanusError } from '../../src/errors.ts';
import {
  buildDiscovery,
  DEFAULT_PATHS,
  errorResponse,
  jsonBytes,
  openDelivery,
  countDelivery,
  sealDeliveryError,
  sealRefusal,
  parseAckRequest,
  parseChallengeRequest,
  parseDelivery,
  parseSkepConfirm,
  parseSkepHello,
  parseRotate,
  sealDelivery,
  skepVendorConfirm,
  skepVendorHello,
  vendorAck,
  vendorChallenge,
  vendorRotate,
  routeFor,
  defaultPolicy,
  type ClientRecord,
  type HttpRequestMsg,
  type HttpResponseMsg,
  type JsonObject,
  type ReceiptPolicy,
  type Route,
  type SubscribePolicy,
  type UseOnce,
  type VendorKeys,
} from '../../src/protocol/index.ts';
import { WELL_KNOWN } from '../../src/protocol/discovery.ts';

type AppHandler = (client: ClientRecord, req: { method: string; path: string; body: Uint8Array }) => {
  status?: number;
  contentType?: string;
  body: Uint8Array;
};

let cachedPair: Promise<{ spki: Uint8Array; pkcs8: Uint8Array }> | undefined;
/** One RSA-3072 key pair per test process: generating one takes a moment. */
function testVendorKeyPair(): Promise<{ spki: Uint8Array; pkcs8: Uint8Array }> {
  cachedPair ??= generateVendorKeyPair(3072);
  return cachedPair;
}

export class MemoryVendor {
  readonly records = new Map<string, ClientRecord>();
  readonly used = new Map<string, number>();
  now: number;
  constructor(
    readonly vk: VendorKeys,
    readonly routes: Route[],
    readonly app: AppHandler,
    readonly policy: SubscribePolicy = defaultPolicy,
    now = Math.floor(Date.now() / 1000),
  ) {
    this.now = now;
  }

  static async create(opts: {
    origin: string;
    routes?: Route[];
    app?: AppHandler;
    policy?: SubscribePolicy;
    receipt?: ReceiptPolicy;
    window?: number;
    now?: number;
    keys?: { spki: Uint8Array; pkcs8: Uint8Array };
  }): Promise<MemoryVendor> {
    const pair = opts.keys ?? (await testVendorKeyPair());
    const vk: VendorKeys = {
      idV: opts.origin,
      spki: pair.spki,
      pkcs8: pair.pkcs8,
      tk: randomBytes(32),
      ck: randomBytes(32),
      window: opts.window ?? 1,
      receipt: opts.receipt ?? 'offered',
    };
    const app: AppHandler =
      opts.app ?? ((client, req) => ({ contentType: 'application/json', body: jsonBytes({ hello: client.alias, path: req.path }) }));
    return new MemoryVendor(vk, opts.routes ?? [], app, opts.policy ?? defaultPolicy, opts.now);
  }

  discoveryJson(): JsonObject {
    return buildDiscovery({
      origin: this.vk.idV,
      spki: b64u.encode(this.vk.spki),
      fingerprint: spkiFingerprint(this.vk.spki),
      window: this.vk.window,
      receipt: this.vk.receipt,
      routes: this.routes,
    });
  }

  private consume(useOnce: readonly UseOnce[]): void {
    for (const u of useOnce) {
      const exp = this.used.get(u.key);
      if (exp !== undefined && exp >= this.now) throw new JanusError('replayed');
    }
    for (const u of useOnce) this.used.set(u.key, u.expires);
  }

  /** One request in, one response out; a JanusError becomes its 4xx (never a 5xx for bad input). */
  async handle(req: HttpRequestMsg): Promise<HttpResponseMsg> {
    try {
      return await this.dispatch(req);
    } catch (e) {
      if (e instanceof JanusError) return errorResponse(e);
      throw e;
    }
  }

  private async dispatch(req: HttpRequestMsg): Promise<HttpResponseMsg> {
    const url = new URL(req.url);
    const path = url.pathname;
    const now = this.now;
    const vk = this.vk;
    if (path === WELL_KNOWN) return { status: 200, headers: { 'content-type': 'application/json' }, body: jsonBytes(this.discoveryJson()) };
    if (path === DEFAULT_PATHS.skep) {
      const hello = parseSkepHello(req);
      return skepVendorHello(vk, req, hello, this.records.get(hello.alias) ?? null, now);
    }
    if (path === DEFAULT_PATHS.confirm) {
      const c = parseSkepConfirm(vk, req, now);
      const out = await skepVendorConfirm(vk, req, c, this.records.get(c.pending.alias) ?? null, this.policy, now);
      this.consume(out.useOnce);
      this.records.set(out.record.alias, out.record);
      return out.response;
    }
    if (path === DEFAULT_PATHS.challenge) {
      const alias = parseChallengeRequest(req);
      return vendorChallenge(vk, alias, this.records.get(alias) ?? null, now);
    }
    if (path === DEFAULT_PATHS.ack) {
      const { alias, ack } = parseAckRequest(req);
      const out = vendorAck(this.records.get(alias) ?? null, ack, now);
      this.records.set(alias, out.record);
      return out.response;
    }
    if (path === DEFAULT_PATHS.rotate) {
      const parsed = parseRotate(vk, req, now);
      const out = await vendorRotate(vk, parsed, req, this.records.get(parsed.alias) ?? null, now);
      if (out.rotated && out.record.alias !== out.oldAlias && this.records.has(out.record.alias)) throw new JanusError('already_registered');
      this.consume(out.useOnce);
      this.records.delete(out.oldAlias);
      this.records.set(out.record.alias, out.record);
      return out.response;
    }
    const route = routeFor(this.routes, path, req.method);
    if (!route || route.level === 'credential') {
      return { status: 404, headers: { 'content-type': 'text/plain' }, body: jsonBytes('not found') };
    }
    const d = parseDelivery(vk, req, route.level, now);
    const opened = await openDelivery(vk, d, req, this.records.get(d.parsed.alias) ?? null, now);
    // §11.2: the one-time values and the acknowledgement are stored first; every answer after is sealed.
    this.consume(opened.useOnce);
    this.records.set(opened.record.alias, opened.record);
    if (opened.rule !== 'deliver') return sealRefusal(vk, d, req, opened, now);
    let out: ReturnType<AppHandler>;
    try {
      out = this.app(opened.record, { method: req.method, path, body: opened.plaintext });
    } catch (e) {
      if (!(e instanceof JanusError)) throw e;
      return sealDeliveryError(vk, d, req, opened, e, now);
    }
    const status = out.status ?? 200;
    let delivery = null;
    if (route.level === 'eddp+receipts' && status >= 200 && status <= 299) {
      // A 2xx answer is a delivery, counted with it.
      const counted = countDelivery(opened.record, now);
      this.records.set(counted.record.alias, counted.record);
      delivery = counted.mark;
    }
    return sealDelivery(vk, d, req, opened, { status, contentType: out.contentType ?? 'application/json', body: out.body, delivery }, now);
  }
}
