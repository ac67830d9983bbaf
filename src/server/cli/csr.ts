/** The certificate signing request `keygen --csr` writes (docs/CLI.md). */
import * as forgeNs from 'node-forge';

// node-forge is CommonJS: Node's ESM loader exposes it only as `default`, bundlers as the namespace.
const forge: typeof forgeNs = (forgeNs as unknown as { default?: typeof forgeNs }).default ?? forgeNs;

const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;

/** The origin's host for CN and subjectAltName, and whether it is an IP literal. */
export function hostOf(origin: string): { host: string; isIp: boolean } {
  const host = new URL(origin).hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, isIp: IPV4_RE.test(host) || host.includes(':') };
}

/** A PKCS#10 request (RFC 2986) for a real CA: CN = host, subjectAltName asked for, SHA-256. */
export function certificateSigningRequest(pkcs8: Uint8Array, origin: string): string {
  const { host, isIp } = hostOf(origin);
  const priv = forge.pki.privateKeyFromAsn1(forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(pkcs8).toString('binary')), true)) as forgeNs.pki.rsa.PrivateKey;
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.setRsaPublicKey(priv.n, priv.e);
  csr.setSubject([{ name: 'commonName', value: host }]);
  csr.setAttributes([
    // RFC 2985 §5.4.2 extensionRequest: RFC 5280 §4.2.1.6 dNSName (2) or iPAddress (7).
    { name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames: [isIp ? { type: 7, ip: host } : { type: 2, value: host }] }] },
  ] as unknown as forgeNs.pki.CertificateField[]);
  csr.sign(priv, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr).replace(/\r\n/g, '\n');
}
