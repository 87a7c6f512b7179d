import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * What is wrong with a certificate, judged as a TLS client would: by the
 * time it is presented at, and the address it was reached at. Pure (the
 * certificate is parsed, the time and the address are given), so each
 * judgement is tested with real certificates.
 */
export type CertificateProblemKind = 'expired' | 'not-yet-valid' | 'wrong-san' | 'other-ca';

export interface CertificateProblem {
  kind: CertificateProblemKind;
  /** expired: the end of validity; not-yet-valid: its start (YYYY-MM-DD, UTC) */
  date?: string;
  /** wrong-san: the host the member was reached at, and what the certificate names */
  host?: string;
  sans?: string[];
  /** the certificate's subject and issuer, as openssl prints them on one line */
  subject: string;
  issuer: string;
  /** one line an operator can act on */
  message: string;
}

/** The facts a judgement needs, read from a parsed certificate. */
export interface CertificateFacts {
  subject: string;
  issuer: string;
  validFrom: Date;
  validTo: Date;
  /** "DNS:localhost", "IP Address:127.0.0.1", as node prints subjectAltName */
  sans: string[];
  /** does it name this host (IP or DNS, as TLS clients match it) */
  names(host: string): boolean;
}

export function certificateFacts(cert: X509Certificate): CertificateFacts {
  return {
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    validFrom: new Date(cert.validFrom),
    validTo: new Date(cert.validTo),
    sans: (cert.subjectAltName ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''),
    names: (host) => (isIP(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host) !== undefined),
  };
}

/** Expired or not yet valid at `at`, else undefined. */
export function validityProblem(facts: CertificateFacts, at: Date, whose: string): CertificateProblem | undefined {
  const base = { subject: facts.subject, issuer: facts.issuer };
  if (at.getTime() > facts.validTo.getTime()) {
    const date = day(facts.validTo);
    return { ...base, kind: 'expired', date, message: `${whose} expired ${date} (valid ${day(facts.validFrom)} to ${date}): renew it` };
  }
  if (at.getTime() < facts.validFrom.getTime()) {
    const date = day(facts.validFrom);
    return { ...base, kind: 'not-yet-valid', date, message: `${whose} is not valid until ${date} (clock skew, or issued with a future start?)` };
  }
  return undefined;
}

/**
 * Why a member's server certificate was refused: its dates first (OpenSSL
 * reports an expired certificate before anything else), then whether it
 * names the host it was reached at, then (what is left of a failed
 * verification) another CA. Undefined when nothing is wrong with it.
 */
export function serverCertificateProblem(
  facts: CertificateFacts,
  at: Date,
  host: string,
  /** the verification error OpenSSL gave (socket.authorizationError), if any */
  verifyError: string | undefined,
  caFile: string | undefined,
): CertificateProblem | undefined {
  const whose = `TLS: the server certificate (${facts.subject})`;
  const dated = validityProblem(facts, at, whose);
  if (dated) return dated;
  if (!facts.names(host)) {
    const sans = facts.sans.length > 0 ? facts.sans.join(', ') : 'none';
    return { kind: 'wrong-san', host, sans: facts.sans, subject: facts.subject, issuer: facts.issuer,
      message: `${whose} does not name ${host}, the address it was reached at (its SANs: ${sans}): re-issue it with ${host} among its SANs` };
  }
  if (verifyError === undefined) return undefined;
  const ca = caFile ? `--cacert is ${caFile}` : 'no --cacert given';
  return { kind: 'other-ca', subject: facts.subject, issuer: facts.issuer,
    message: `TLS: the server certificate is not signed by the CA given (--cacert or tls.cacert): wrong CA? (${facts.subject} is issued by ${facts.issuer}; ${ca}; ${verifyError})` };
}

/** YYYY-MM-DD in UTC: the date an operator compares with `openssl x509 -enddate`. */
function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function oneLine(name: string): string {
  return name.split('\n').filter((s) => s !== '').join(', ');
}
