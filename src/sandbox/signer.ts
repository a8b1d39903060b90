/**
 * The sandbox's signer (`POST /admin/sign`): an attached CMS SignedData over the given content, made
 * with a throwaway ECDSA P-256 key and a self-signed certificate whose subject serialNumber is
 * `TINUA-<tax id>` — what the embedded sandbox accepts with SIGNATURE_TRUST=any-test-ca. So the sign
 * and cancel steps work with curl alone. A key per tax id is made once per process.
 */
import { webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { serviceKey } from '../platform/services.ts';

const engine = new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as Crypto });

interface Identity {
  cert: pkijs.Certificate;
  key: CryptoKey;
}

async function makeIdentity(taxId: string): Promise<Identity> {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = webcrypto.getRandomValues(new Uint8Array(8));
  serial[0] = (serial[0] & 0x7f) | 0x01;
  cert.serialNumber = new asn1js.Integer({ valueHex: serial });
  const name = new pkijs.RelativeDistinguishedNames({
    typesAndValues: [
      new pkijs.AttributeTypeAndValue({ type: '2.5.4.6', value: new asn1js.PrintableString({ value: 'UA' }) }),
      new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: 'esoz-core sandbox signer' }) }),
      // ETSI EN 319 412-1 natural-person identifier: the tax id (РНОКПП) as TINUA-<digits>. A passport
      // series is Cyrillic, which PrintableString cannot hold (asn1js would keep one byte per letter)
      new pkijs.AttributeTypeAndValue({ type: '2.5.4.5', value: directoryString(`TINUA-${taxId}`) }),
    ],
  });
  cert.subject = name;
  cert.issuer = name;
  cert.notBefore.value = new Date(Date.now() - 86400_000);
  cert.notAfter.value = new Date(Date.now() + 365 * 86400_000);
  await cert.subjectPublicKeyInfo.importKey(keys.publicKey, engine);
  await cert.sign(keys.privateKey, 'SHA-256', engine);
  return { cert, key: keys.privateKey };
}

export class SandboxSigner {
  private readonly identities = new Map<string, Promise<Identity>>();

  /** Base64 DER of an attached CMS SignedData over the UTF-8 bytes of `content`. */
  async sign(content: string, taxId: string): Promise<string> {
    let identity = this.identities.get(taxId);
    if (!identity) {
      identity = makeIdentity(taxId);
      this.identities.set(taxId, identity);
    }
    const { cert, key } = await identity;
    const data = new TextEncoder().encode(content);
    const digest = await webcrypto.subtle.digest('SHA-256', data);
    const signed = new pkijs.SignedData({
      version: 1,
      encapContentInfo: new pkijs.EncapsulatedContentInfo({
        eContentType: '1.2.840.113549.1.7.1',
        eContent: new asn1js.OctetString({ valueHex: data }),
      }),
      signerInfos: [
        new pkijs.SignerInfo({
          version: 1,
          sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
          signedAttrs: new pkijs.SignedAndUnsignedAttributes({
            type: 0,
            attributes: [
              new pkijs.Attribute({
                type: '1.2.840.113549.1.9.3',
                values: [new asn1js.ObjectIdentifier({ value: '1.2.840.113549.1.7.1' })],
              }),
              new pkijs.Attribute({ type: '1.2.840.113549.1.9.5', values: [new asn1js.UTCTime({ valueDate: new Date() })] }),
              new pkijs.Attribute({ type: '1.2.840.113549.1.9.4', values: [new asn1js.OctetString({ valueHex: digest })] }),
            ],
          }),
        }),
      ],
      certificates: [cert],
    });
    await signed.sign(key, 0, 'SHA-256', undefined, engine);
    const ci = new pkijs.ContentInfo({ contentType: pkijs.ContentInfo.SIGNED_DATA, content: signed.toSchema(true) });
    return Buffer.from(ci.toSchema().toBER(false)).toString('base64');
  }
}

export const SANDBOX_SIGNER = serviceKey('sandbox signer', () => new SandboxSigner());

/** PrintableString when the text fits it (A–Z, a–z, 0–9 and a few marks), UTF8String otherwise. */
function directoryString(value: string) {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value) ? new asn1js.PrintableString({ value }) : new asn1js.Utf8String({ value });
}
