/**
 * node-forge as the protocol core uses it (src/crypto/rsa.ts: DER, PEM and X.509 only; the RSA
 * operations run on crypto.subtle). tsconfig.core.json maps `node-forge` here, because
 * @types/node-forge pulls in Node's declarations, which the core must compile without. The names
 * and shapes are node-forge's own (a subset of @types/node-forge).
 */
declare namespace forge {
  namespace util {
    interface ByteBuffer {
      getBytes(): string;
    }
    function createBuffer(input: string): ByteBuffer;
  }
  namespace asn1 {
    interface Asn1 {
      readonly tagClass: number;
      readonly type: number;
    }
    function fromDer(bytes: util.ByteBuffer, strict: boolean): Asn1;
    function toDer(obj: Asn1): util.ByteBuffer;
  }
  namespace jsbn {
    interface BigInteger {
      bitLength(): number;
      toString(radix: number): string;
      equals(other: BigInteger): boolean;
    }
  }
  namespace md {
    interface MessageDigest {
      readonly algorithm: string;
    }
    namespace sha256 {
      function create(): MessageDigest;
    }
  }
  namespace pki {
    namespace rsa {
      interface PublicKey {
        n: jsbn.BigInteger;
        e: jsbn.BigInteger;
      }
      interface PrivateKey {
        n: jsbn.BigInteger;
        e: jsbn.BigInteger;
      }
    }
    interface CertificateField {
      name?: string;
      shortName?: string;
      type?: string;
      value?: unknown;
    }
    interface Certificate {
      publicKey: rsa.PublicKey | object;
      serialNumber: string;
      validity: { notBefore: Date; notAfter: Date };
      subject: { attributes: CertificateField[] };
      setSubject(attrs: CertificateField[]): void;
      setIssuer(attrs: CertificateField[]): void;
      setExtensions(exts: Record<string, unknown>[]): void;
      getExtension(name: string): {} | undefined;
      sign(key: rsa.PrivateKey, md: md.MessageDigest): void;
    }
    function publicKeyFromAsn1(obj: asn1.Asn1): rsa.PublicKey;
    function publicKeyToAsn1(key: rsa.PublicKey): asn1.Asn1;
    function privateKeyFromAsn1(obj: asn1.Asn1): rsa.PrivateKey;
    function certificateFromAsn1(obj: asn1.Asn1): Certificate;
    function certificateToAsn1(cert: Certificate): asn1.Asn1;
    function createCertificate(): Certificate;
  }
}
export = forge;
