/**
 * Verification of a КЕП: a CMS (PKCS#7) SignedData with the signed content attached, as every ESOZ
 * write that takes a signature sends it (compositions sign and cancel today). What the content
 * must be is the caller's business; this file answers whether it is signed, and by whom.
 *
 * `SignatureVerifier` is the seam for production KEP: ESOZ signatures are CAdES with DSTU 4145 keys
 * from Ukrainian qualified CAs, which WebCrypto cannot verify. A DSTU verifier (e.g. a binding to a
 * certified library) implements the same interface and is chosen by the signer's algorithm OID
 * (see `CompositeVerifier`). This file verifies RSA and ECDSA with pkijs on Node's WebCrypto.
 *
 * Signer identity: the tax id (РНОКПП / DRFO) is read, in this order, from
 *  1. the certificate extension subjectDirectoryAttributes (2.5.29.9), attribute 1.2.804.2.1.1.1.11.1.4.1.1 (DRFO),
 *     as Ukrainian qualified certificates before ETSI EN 319 412-1 carried it;
 *  2. the subject `serialNumber` (2.5.4.5) in ETSI natural-person semantics, `TINUA-<tax id>`;
 *  3. the subject `serialNumber` when it is just the tax id (8–10 digits, or a passport number for people without one).
 */
import { webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { Platform } from './platform.ts';
import { isEmbedded } from './config.ts';
import { serviceKey } from './services.ts';

const engine = new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as Crypto });

export class SignatureError extends Error {
  constructor(
    readonly reason: 'encoding' | 'format' | 'detached' | 'signature' | 'certificate' | 'unsupported',
    message: string,
  ) {
    super(message);
    this.name = 'SignatureError';
  }
}

export interface VerifiedSignature {
  /** The attached content (the signed JSON), bytes as signed. */
  content: Uint8Array;
  /** The signer's tax id from the certificate, or null when the certificate carries none. */
  taxId: string | null;
  subject: string;
  issuer: string;
  serialNumber: string;
  algorithm: string;
}

export interface SignatureVerifier {
  /** Accepts the request's base64 string; throws `SignatureError` with a message fit for the job error. */
  verify(base64: string): Promise<VerifiedSignature>;
}

export type TrustMode = 'any-test-ca' | 'trusted-roots';

const B64_RE = /^[A-Za-z0-9+/\r\n]+={0,2}\s*$/;
const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_SERIAL_NUMBER = '2.5.4.5';
const OID_SUBJECT_DIRECTORY_ATTRIBUTES = '2.5.29.9';
const OID_UA_DRFO = '1.2.804.2.1.1.1.11.1.4.1.1';
const DSTU_PREFIX = '1.2.804.2.1.1.1.1.3.1';

export function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const trimmed = s.trim();
  if (!trimmed || trimmed.replace(/[\r\n]/g, '').length % 4 !== 0 || !B64_RE.test(trimmed)) {
    throw new SignatureError('encoding', 'Signed data is not valid base64');
  }
  return new Uint8Array(Buffer.from(trimmed, 'base64'));
}

function nameToString(name: pkijs.RelativeDistinguishedNames): string {
  const short: Record<string, string> = {
    '2.5.4.3': 'CN',
    '2.5.4.6': 'C',
    '2.5.4.10': 'O',
    '2.5.4.11': 'OU',
    '2.5.4.5': 'serialNumber',
    '2.5.4.7': 'L',
  };
  return name.typesAndValues.map((tv) => `${short[tv.type] ?? tv.type}=${String((tv.value.valueBlock as any).value ?? '')}`).join(', ');
}

/** Tax id of a certificate per the order in the file header; exported for tests. */
export function taxIdOf(cert: pkijs.Certificate): string | null {
  const sda = cert.extensions?.find((e) => e.extnID === OID_SUBJECT_DIRECTORY_ATTRIBUTES);
  if (sda) {
    try {
      const parsed = asn1js.fromBER(sda.extnValue.valueBlock.valueHexView);
      const seq = parsed.result as asn1js.Sequence;
      for (const attr of seq.valueBlock.value as asn1js.Sequence[]) {
        const [type, values] = attr.valueBlock.value as [asn1js.ObjectIdentifier, asn1js.Set];
        if (type.valueBlock.toString() === OID_UA_DRFO) {
          const v = (values.valueBlock.value[0] as any)?.valueBlock?.value;
          if (typeof v === 'string' && v.trim()) return v.trim();
        }
      }
    } catch {
      /* malformed extension: fall through to the subject */
    }
  }
  const sn = cert.subject.typesAndValues.find((tv) => tv.type === OID_SERIAL_NUMBER);
  const raw = sn ? String((sn.value.valueBlock as any).value ?? '').trim() : '';
  if (!raw) return null;
  const tin = /^TINUA-(.+)$/i.exec(raw);
  if (tin) return tin[1];
  if (/^\d{8,10}$/.test(raw) || /^[А-ЯІЇЄҐA-Z]{2}\d{6}$|^\d{9}$/.test(raw)) return raw;
  return null;
}

export interface PkijsVerifierOptions {
  trust: TrustMode;
  /** Trusted root/intermediate certificates (PEM or DER) for `trusted-roots`. */
  roots?: (string | Uint8Array<ArrayBuffer>)[];
  now?: () => Date;
}

function parsePemBundle(pem: string): Uint8Array<ArrayBuffer>[] {
  const out: Uint8Array<ArrayBuffer>[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
    out.push(new Uint8Array(Buffer.from(m[1].replace(/\s+/g, ''), 'base64')));
  }
  return out;
}

export function loadRoots(path: string): Uint8Array<ArrayBuffer>[] {
  if (!path) return [];
  return parsePemBundle(readFileSync(path, 'utf8'));
}

/** RSA / ECDSA CMS verification with pkijs. */
export class PkijsSignatureVerifier implements SignatureVerifier {
  private readonly roots: pkijs.Certificate[];
  constructor(private readonly opts: PkijsVerifierOptions) {
    this.roots = (opts.roots ?? [])
      .flatMap((r) => (typeof r === 'string' ? parsePemBundle(r) : [r]))
      .map((der) => pkijs.Certificate.fromBER(der));
  }

  async verify(base64: string): Promise<VerifiedSignature> {
    const der = decodeBase64(base64);
    let signed: pkijs.SignedData;
    try {
      const ci = pkijs.ContentInfo.fromBER(der);
      if (ci.contentType !== OID_SIGNED_DATA) throw new Error(`content type ${ci.contentType}`);
      signed = new pkijs.SignedData({ schema: ci.content });
    } catch {
      throw new SignatureError('format', 'Signed data is not a CMS (PKCS#7) SignedData structure');
    }
    const eContent = signed.encapContentInfo.eContent;
    if (!eContent)
      throw new SignatureError('detached', 'Signed data has no attached content: embed the signed JSON in the CMS (attached signature)');
    // Constructed (BER, chunked) OCTET STRINGs carry the data in their parts.
    const content = eContent.idBlock.isConstructed
      ? new Uint8Array(
          Buffer.concat((eContent.valueBlock.value as asn1js.OctetString[]).map((p) => Buffer.from(p.valueBlock.valueHexView))),
        )
      : new Uint8Array(eContent.valueBlock.valueHexView);
    if (signed.signerInfos.length !== 1)
      throw new SignatureError('format', `Signed data must have exactly one signer, found ${signed.signerInfos.length}`);
    const signerInfo = signed.signerInfos[0];
    if (signerInfo.signatureAlgorithm.algorithmId.startsWith(DSTU_PREFIX)) {
      throw new SignatureError(
        'unsupported',
        'DSTU 4145 signatures are not supported by this verifier; configure a DSTU 4145 SignatureVerifier',
      );
    }
    const now = this.opts.now?.() ?? new Date();
    let result: pkijs.SignedDataVerifyResult;
    try {
      result = await signed.verify(
        {
          signer: 0,
          checkChain: this.opts.trust === 'trusted-roots',
          trustedCerts: this.roots,
          checkDate: now,
          extendedMode: true,
        },
        engine,
      );
    } catch (err: any) {
      const msg: string = err?.message ?? String(err);
      const code: number | undefined = err?.code;
      // pkijs codes: 3 = signer certificate not found, 5 = chain validation failed, 14/15 = signature mismatch
      if (code === 3) throw new SignatureError('certificate', 'The signer certificate is not embedded in the signed data');
      if (code === 5 || /chain|trusted|issuer/i.test(msg)) {
        throw new SignatureError(
          'certificate',
          this.roots.length
            ? 'The signer certificate is not issued by a trusted certification authority'
            : 'The signer certificate cannot be trusted: no trusted certification authorities are configured (SIGNATURE_TRUST_ROOTS)',
        );
      }
      if (/algorithm|unsupported|not supported/i.test(msg))
        throw new SignatureError('unsupported', `Unsupported signature algorithm: ${msg}`);
      throw new SignatureError('signature', 'The signature is not valid');
    }
    if (!result.signatureVerified) throw new SignatureError('signature', 'The signature is not valid');
    const cert = result.signerCertificate;
    if (!cert) throw new SignatureError('certificate', 'The signer certificate is not embedded in the signed data');
    if (cert.notBefore.value > now || cert.notAfter.value < now) {
      throw new SignatureError(
        'certificate',
        `The signer certificate is not valid at ${now.toISOString()} (valid ${cert.notBefore.value.toISOString()} – ${cert.notAfter.value.toISOString()})`,
      );
    }
    return {
      content,
      taxId: taxIdOf(cert),
      subject: nameToString(cert.subject),
      issuer: nameToString(cert.issuer),
      serialNumber: Buffer.from(cert.serialNumber.valueBlock.valueHexView).toString('hex'),
      algorithm: signerInfo.signatureAlgorithm.algorithmId,
    };
  }
}

/** Picks a verifier by the signer's algorithm family; DSTU 4145 slots in here. */
export class CompositeVerifier implements SignatureVerifier {
  constructor(
    private readonly generic: SignatureVerifier,
    private readonly dstu?: SignatureVerifier,
  ) {}
  async verify(base64: string): Promise<VerifiedSignature> {
    if (this.dstu) {
      try {
        const ci = pkijs.ContentInfo.fromBER(decodeBase64(base64));
        const sd = new pkijs.SignedData({ schema: ci.content });
        if (sd.signerInfos[0]?.signatureAlgorithm.algorithmId.startsWith(DSTU_PREFIX)) return this.dstu.verify(base64);
      } catch {
        /* the generic verifier reports the problem */
      }
    }
    return this.generic.verify(base64);
  }
}

/** SIGNATURE_TRUST=auto: any test CA in the embedded sandbox, configured roots against PostgreSQL. */
export function trustModeOf(platform: Platform): TrustMode {
  const t = platform.config.SIGNATURE_TRUST;
  if (t === 'auto') return isEmbedded(platform.config) ? 'any-test-ca' : 'trusted-roots';
  return t;
}

/** The runtime's verifier: the roots file is read once per runtime, not per signature. */
export const SIGNATURE_VERIFIER = serviceKey<SignatureVerifier>(
  'signature.verifier',
  (platform) =>
    new CompositeVerifier(
      new PkijsSignatureVerifier({ trust: trustModeOf(platform), roots: loadRoots(platform.config.SIGNATURE_TRUST_ROOTS) }),
    ),
);
