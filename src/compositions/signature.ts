/**
 * What is composition-specific about a КЕП (the verification itself is src/platform/signature.ts):
 * the signed content of sign and cancel is UTF-8 JSON, and a verification failure is a job error
 * whose type names the rule.
 */
import { SignatureError, type SignatureVerifier, type VerifiedSignature } from '../platform/signature.ts';
import { TaskFailure } from './model.ts';
import { MESSAGES } from './messages.ts';

/** Verify the CMS and parse its content (CPU work: run it outside any transaction, PGlite serialises them). */
export async function verifiedJson(verifier: SignatureVerifier, data: string): Promise<{ signed: VerifiedSignature; content: unknown }> {
  const signed = await verifier.verify(data);
  try {
    return { signed, content: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(signed.content)) };
  } catch {
    throw new TaskFailure('INVALID_SIGNED_DATA', MESSAGES.signedContentNotJson);
  }
}

/** A verification failure as the job error the MIS sees; null for anything else. */
export function signatureFailure(err: unknown): TaskFailure | null {
  if (!(err instanceof SignatureError)) return null;
  const type =
    err.reason === 'signature'
      ? 'INVALID_SIGNATURE'
      : err.reason === 'certificate'
        ? 'UNTRUSTED_SIGNER_CERTIFICATE'
        : 'INVALID_SIGNED_DATA';
  return new TaskFailure(type, err.message);
}
