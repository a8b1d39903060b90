/**
 * Test PKI: a throwaway CA, signer certificates carrying a tax id, and attached CMS SignedData
 * (RSA or ECDSA P-256) — what an MIS produces with the doctor's key, minus DSTU 4145.
 */
import { webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

// (pkijs alone: @peculiar/x509 needs a reflect-metadata polyfill this project does not ship.)
const crypto = new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as Crypto });

export type KeyAlg = 'RSA' | 'ECDSA';

const GEN = {
  RSA: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  ECDSA: { name: 'ECDSA', namedCurve: 'P-256' },
} as const;

export interface TestIdentity {
  cert: pkijs.Certificate;
  keys: CryptoKeyPair;
  alg: KeyAlg;
  /** PEM of the certificate. */
  pem: string;
  der: Uint8Array;
}

const randomSerial = () => {
  const b = webcrypto.getRandomValues(new Uint8Array(8));
  b[0] &= 0x7f;
  b[0] |= 0x01;
  return new asn1js.Integer({ valueHex: b });
};

async function keysFor(alg: KeyAlg): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(GEN[alg] as any, true, ['sign', 'verify'])) as CryptoKeyPair;
}

type NamePart = [oid: string, value: string, kind?: 'printable' | 'utf8'];
function rdn(parts: NamePart[]): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: parts.map(
      ([type, value, kind]) =>
        new pkijs.AttributeTypeAndValue({
          type,
          value: kind === 'printable' ? new asn1js.PrintableString({ value }) : new asn1js.Utf8String({ value }),
        }),
    ),
  });
}

function toPem(der: Uint8Array) {
  const b64 = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

async function issue(o: {
  subject: NamePart[];
  keys: CryptoKeyPair;
  issuer?: TestIdentity;
  ca: boolean;
  notBefore: Date;
  notAfter: Date;
  alg: KeyAlg;
  drfo?: string;
}): Promise<TestIdentity> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = randomSerial();
  const subject = rdn(o.subject);
  cert.subject = subject;
  cert.issuer = o.issuer ? o.issuer.cert.subject : subject;
  cert.notBefore.value = o.notBefore;
  cert.notAfter.value = o.notAfter;
  await cert.subjectPublicKeyInfo.importKey(o.keys.publicKey, crypto);
  const bc = new pkijs.BasicConstraints({ cA: o.ca, ...(o.ca ? { pathLenConstraint: 1 } : {}) });
  const keyUsage = new asn1js.BitString({ valueHex: new Uint8Array([o.ca ? 0x06 : 0xc0]).buffer, unusedBits: 1 });
  cert.extensions = [
    new pkijs.Extension({ extnID: '2.5.29.19', critical: true, extnValue: bc.toSchema().toBER(false), parsedValue: bc }),
    new pkijs.Extension({ extnID: '2.5.29.15', critical: true, extnValue: keyUsage.toBER(false) }),
  ];
  if (o.drfo) {
    // subjectDirectoryAttributes with the Ukrainian DRFO attribute, as pre-ETSI qualified certificates carry the tax id
    const sda = new asn1js.Sequence({
      value: [
        new asn1js.Sequence({
          value: [
            new asn1js.ObjectIdentifier({ value: '1.2.804.2.1.1.1.11.1.4.1.1' }),
            new asn1js.Set({ value: [new asn1js.PrintableString({ value: o.drfo })] }),
          ],
        }),
      ],
    });
    cert.extensions.push(new pkijs.Extension({ extnID: '2.5.29.9', critical: false, extnValue: sda.toBER(false) }));
  }
  const signingKey = o.issuer ? o.issuer.keys.privateKey : o.keys.privateKey;
  await cert.sign(signingKey, 'SHA-256', crypto);
  const der = new Uint8Array(cert.toSchema(true).toBER(false));
  return { cert: pkijs.Certificate.fromBER(der), keys: o.keys, alg: o.alg, der, pem: toPem(der) };
}

/** A self-signed CA. */
export async function makeCa(name = 'Test KEP CA', alg: KeyAlg = 'ECDSA'): Promise<TestIdentity> {
  return issue({
    subject: [
      ['2.5.4.6', 'UA', 'printable'],
      ['2.5.4.10', 'esoz-core tests'],
      ['2.5.4.3', name],
    ],
    keys: await keysFor(alg),
    ca: true,
    alg,
    notBefore: new Date(Date.now() - 86400_000),
    notAfter: new Date(Date.now() + 365 * 86400_000),
  });
}

export interface SignerOptions {
  /** Written to the subject serialNumber (2.5.4.5) as is, e.g. "3126509816" or "TINUA-3126509816". Omit for none. */
  taxId?: string;
  /** Tax id in the subjectDirectoryAttributes DRFO attribute (1.2.804.2.1.1.1.11.1.4.1.1). */
  drfo?: string;
  name?: string;
  alg?: KeyAlg;
  /** Issue from this CA; omit for a self-signed signer certificate. */
  ca?: TestIdentity;
  notBefore?: Date;
  notAfter?: Date;
}

export async function makeSigner(o: SignerOptions = {}): Promise<TestIdentity> {
  const alg = o.alg ?? 'ECDSA';
  const subject: NamePart[] = [
    ['2.5.4.6', 'UA', 'printable'],
    ['2.5.4.3', o.name ?? 'Test Doctor'],
  ];
  if (o.taxId !== undefined) subject.push(['2.5.4.5', o.taxId, 'printable']);
  return issue({
    subject,
    keys: await keysFor(alg),
    issuer: o.ca,
    ca: false,
    alg,
    drfo: o.drfo,
    notBefore: o.notBefore ?? new Date(Date.now() - 3600_000),
    notAfter: o.notAfter ?? new Date(Date.now() + 30 * 86400_000),
  });
}

export interface SignOptions {
  /** Add CMS signed attributes (contentType, messageDigest, signingTime) like CAdES does. Default true. */
  signedAttributes?: boolean;
  /** Flip a byte of the signature value after signing. */
  corruptSignature?: boolean;
  /** Replace the embedded content after signing (signature no longer matches). */
  replaceContent?: string;
  /** Leave the content out (detached signature). */
  detached?: boolean;
  /** Extra certificates to embed (e.g. the CA). */
  extraCerts?: TestIdentity[];
}

/** Attached CMS SignedData over `content`, base64 of its DER. */
export async function signCms(signer: TestIdentity, content: string | Uint8Array, o: SignOptions = {}): Promise<string> {
  const data: Uint8Array<ArrayBuffer> = typeof content === 'string' ? new TextEncoder().encode(content) : new Uint8Array(content);
  const cert = signer.cert;
  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
  });
  if (o.signedAttributes !== false) {
    const digest = await webcrypto.subtle.digest('SHA-256', data);
    signerInfo.signedAttrs = new pkijs.SignedAndUnsignedAttributes({
      type: 0,
      attributes: [
        new pkijs.Attribute({ type: '1.2.840.113549.1.9.3', values: [new asn1js.ObjectIdentifier({ value: '1.2.840.113549.1.7.1' })] }),
        new pkijs.Attribute({ type: '1.2.840.113549.1.9.5', values: [new asn1js.UTCTime({ valueDate: new Date() })] }),
        new pkijs.Attribute({ type: '1.2.840.113549.1.9.4', values: [new asn1js.OctetString({ valueHex: digest })] }),
      ],
    });
  }
  const signed = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({
      eContentType: '1.2.840.113549.1.7.1',
      ...(o.detached ? {} : { eContent: new asn1js.OctetString({ valueHex: data }) }),
    }),
    signerInfos: [signerInfo],
    certificates: [cert, ...(o.extraCerts ?? []).map((c) => c.cert)],
  });
  await signed.sign(signer.keys.privateKey, 0, 'SHA-256', o.detached ? data : undefined, crypto);
  if (o.corruptSignature) {
    const sig = new Uint8Array(signed.signerInfos[0].signature.valueBlock.valueHexView);
    sig[sig.length - 5] ^= 0xff;
    signed.signerInfos[0].signature = new asn1js.OctetString({ valueHex: sig });
  }
  if (o.replaceContent !== undefined) {
    signed.encapContentInfo.eContent = new asn1js.OctetString({ valueHex: new TextEncoder().encode(o.replaceContent) });
  }
  const ci = new pkijs.ContentInfo({ contentType: pkijs.ContentInfo.SIGNED_DATA, content: signed.toSchema(true) });
  return Buffer.from(ci.toSchema().toBER(false)).toString('base64');
}
