/**
 * Evidence for a protocol decision (README, Performance; issue 3): what sealing one 1 KiB SDDP
 * response costs the vendor in the spec's framing (RFC 8188 aes128gcm + RFC 9530 digest + RFC 9421
 * HMAC signature, `sealResponse`) against a lighter framing that is NOT in the spec: one AES-GCM
 * call under K_n^e, its 96-bit nonce derived from N_C, with status and request binding as
 * additional data. Both on node:crypto, in one process, printed as a ratio.
 *
 *   npx tsx bench/framing.ts
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { useCryptoProvider } from '../src/crypto/provider.ts';
import { sealResponse, slotKey } from '../src/protocol/index.ts';
import { nodeCryptoProvider } from '../src/vendor/node-crypto.ts';

useCryptoProvider(nodeCryptoProvider);
const slot = slotKey(randomBytes(64), 5_880_000);
const body = new Uint8Array(1024).fill(0x41);
const parsed = { nonce: 'QOUTYwY9RTxsOkBO8e8H0g', keyid: 'V4BsLnULaOWnTpu_dop1Qg.0.5880000', tag: 'janus/1 sddp', method: 'GET', targetUri: 'https://quotes.example/api/watchlist' };

async function perCall(f: () => unknown, n = 20_000): Promise<number> {
  for (let i = 0; i < 2_000; i++) await f();
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) await f();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / n;
}

const spec = await perCall(() => sealResponse(parsed, {}, slot, { status: 200, contentType: 'application/json', body, now: 1_764_072_000 }));
const nonceC = Buffer.from(parsed.nonce, 'base64url');
const light = await perCall(() => {
  // Not Janus: the nonce would be N_C (16 bytes) cut to 12, unique per request under K_n^e.
  const c = createCipheriv('aes-256-gcm', slot.ke, nonceC.subarray(0, 12), { authTagLength: 16 });
  c.setAAD(Buffer.from(`200\n${parsed.method}\n${parsed.targetUri}\n${parsed.keyid}\napplication/json`));
  return Buffer.concat([c.update(body), c.final(), c.getAuthTag()]);
});
console.log('Sealing one 1 KiB response, vendor CPU per call (node:crypto, this process):');
console.log(`  spec framing (aes128gcm + Content-Digest + RFC 9421 HMAC)  ${spec.toFixed(1)} us`);
console.log(`  one AES-GCM call with the binding as additional data        ${light.toFixed(1)} us  (not in the spec)`);
console.log(`  ratio ${(spec / light).toFixed(1)}x`);
