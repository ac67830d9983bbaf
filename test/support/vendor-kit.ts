/** Test kit for the vendor SDK: a vendor key once per process, and peers over Request/Response or HTTP. */
import { derToPem, generateVendorKeyPair } from '../../src/crypto/rsa.ts';
import { randomBytes } from '../../src/crypto/bytes.ts';
import type { HttpRequestMsg, HttpResponseMsg } from '../../src/protocol/index.ts';
import type { VendorKeyMaterial } from '../../src/server/config.ts';
import type { Peer } from './client.ts';

let pair: Promise<{ spki: Uint8Array; pkcs8: Uint8Array }> | undefined;

export async function testKeyMaterial(kek = randomBytes(32)): Promise<VendorKeyMaterial> {
  pair ??= generateVendorKeyPair(3072);
  const { pkcs8 } = await pair;
  return { privateKeyPem: derToPem(pkcs8, 'PRIVATE KEY'), kek };
}

export function toRequest(m: HttpRequestMsg, url = m.url): Request {
  const hasBody = m.method !== 'GET' && m.method !== 'HEAD';
  return new Request(url, { method: m.method, headers: m.headers, ...(hasBody ? { body: m.body as BodyInit } : {}) });
}

export async function fromResponse(r: Response): Promise<HttpResponseMsg> {
  const headers: Record<string, string> = {};
  r.headers.forEach((v, k) => {
    headers[k] = v;
  });
  return { status: r.status, headers, body: new Uint8Array(await r.arrayBuffer()) };
}

/** A peer that hands requests to a Request -> Response function (in-process). */
export function fetchPeer(handler: (r: Request) => Promise<Response>): Peer {
  return async (m) => fromResponse(await handler(toRequest(m)));
}

/** A peer over real HTTP: the protocol's URL (on id_V) is re-targeted at `base`. */
export function httpPeer(base: string): Peer {
  return async (m) => {
    const u = new URL(m.url);
    return fromResponse(await fetch(toRequest(m, base + u.pathname + u.search)));
  };
}
