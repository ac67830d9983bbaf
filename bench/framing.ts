/**
 * What sealing one 1 KiB SDDP response costs the vendor (`sealResponse`: the `janus-gcm` coding,
 * docs/PROTOCOL.md §6.3) against its floor, one bare node:crypto AES-256-GCM call on the same bytes
 * with the same additional data. The difference is the framing: building the additional data and
 * the headers. Both in one process, printed as a ratio.
 *
 *   npx tsx bench/framing.ts [--smoke]
 *
 * --smoke: a few hundred calls, to prove the script works (the test command runs it); its figures mean nothing.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { useCryptoProvider } from '../src/crypto/provider.ts';
import { responseAad, sealResponse, slotKey } from '../src/protocol/index.ts';
import { nodeCryptoProvider } from '../src/server/node-crypto.ts';

useCryptoProvider(nodeCryptoProvider);
const SMOKE = process.argv.includes('--smoke');
const slot = slotKey(randomBytes(64), 5_880_000);
const body = new Uint8Array(1024).fill(0x41);
const req = { nonce: 'QOUTYwY9RTxsOkBO8e8H0g', keyid: 'V4BsLnULaOWnTpu_dop1Qg.0.5880000', tag: 'janus/1 sddp', method: 'GET', targetUri: 'https://quotes.example/api/watchlist' };

async function perCall(f: () => unknown, n = SMOKE ? 300 : 20_000): Promise<number> {
  for (let i = 0; i < (SMOKE ? 30 : 2_000); i++) await f();
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) await f();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / n;
}

const aad = responseAad(req, 200, 'application/json', []);
const iv = randomBytes(12);
const floor = await perCall(() => {
  const c = createCipheriv('aes-256-gcm', slot.ke, iv, { authTagLength: 16 });
  c.setAAD(aad);
  return Buffer.concat([c.update(body), c.final(), c.getAuthTag()]);
});
const spec = await perCall(() => sealResponse(req, slot, { status: 200, contentType: 'application/json', body }));
console.log(`Sealing one 1 KiB response, vendor CPU per call (node:crypto, this process)${SMOKE ? ' - smoke run: proves the script works, the figures mean nothing' : ''}:`);
console.log(`  sealResponse (janus-gcm, §6.3)                    ${spec.toFixed(1)} us`);
console.log(`  one bare AES-256-GCM call, same bytes and aad     ${floor.toFixed(1)} us`);
console.log(`  framing overhead ${(spec - floor).toFixed(1)} us, ratio ${(spec / floor).toFixed(2)}x`);
