import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { socketAddress } from './address.js';
import { certificateFacts, serverCertificateProblem, type CertificateProblem } from './certificates.js';
import { secureContextFor, type ClientTls } from './tls.js';

/**
 * Connect (and for https, complete the TLS handshake) ourselves, on a socket
 * we own. grpc-js cannot abandon a connection stuck in its TLS handshake with
 * a frozen member: closing the client leaves the socket open until the member
 * thaws, one more per probe. A socket of ours is destroyed when we say so.
 * It also yields the exact TLS error (wrong CA, rejected cert).
 */
export interface HandshakeAttempt {
  readonly endpoint: string;
  readonly startedAt: number;
  /** undefined while nobody answered; then '' (connected) or the one-line error */
  outcome(): string | undefined;
  /** how long the outcome took to come, once it has */
  tookMs(): number | undefined;
  /** resolves with the outcome once there is one */
  readonly settled: Promise<string>;
  /** what was wrong with the certificate the member presented, once refused for it */
  certificate(): CertificateProblem | undefined;
  destroy(): void;
}

/** What a probe makes of a handshake: nothing (it answered) or why not. */
export interface HandshakeFailure {
  error: string;
  /** nobody answered (as opposed to a refusal or a TLS error) */
  silent: boolean;
  /** the member's server certificate was refused: why, with its dates or SANs */
  certificate?: CertificateProblem;
}

/** Handshakes this process has started and not yet seen answered, refused or given up on. */
let inFlight = 0;

export function handshakesInFlight(): number {
  return inFlight;
}

export function startHandshake(endpoint: string, tls: ClientTls | undefined, describe: (err: unknown) => string): HandshakeAttempt {
  const startedAt = Date.now();
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return settledAttempt(endpoint, startedAt, `not a URL: ${endpoint}`);
  }
  const { host, port } = socketAddress(url);
  // verified below, not by node: a refused certificate is then still there to read (its dates, its SANs)
  const socket: Socket = url.protocol === 'https:'
    ? tlsConnect({ host, port, ...(tls ? { secureContext: secureContextFor(tls) } : {}), servername: isIP(host) ? undefined : host, ALPNProtocols: ['h2'], rejectUnauthorized: false })
    : netConnect({ host, port });
  // an attempt kept open across probes (see ProbeChannels) never holds the process up
  socket.unref();
  let outcome: string | undefined;
  let tookMs: number | undefined;
  let certificate: CertificateProblem | undefined;
  inFlight++;
  let counted = true;
  const done = () => {
    if (counted) inFlight--;
    counted = false;
  };
  socket.once('close', done);
  const settled = new Promise<string>((resolve) => {
    const settle = (value: string) => {
      if (outcome !== undefined) return;
      done();
      outcome = value;
      tookMs = Date.now() - startedAt;
      socket.destroy();
      resolve(value);
    };
    socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      certificate = url.protocol === 'https:' ? refusedCertificate(socket as TLSSocket, host, tls?.caFile) : undefined;
      settle(certificate?.message ?? '');
    });
    // `on`, not `once`: a second error on a socket being torn down must not go unhandled
    socket.on('error', (err) => settle(describe(err)));
  });
  return {
    endpoint,
    startedAt,
    outcome: () => outcome,
    tookMs: () => tookMs,
    settled,
    certificate: () => certificate,
    destroy: () => {
      done();
      socket.destroy();
    },
  };
}

/**
 * The verification node would have made (the chain by OpenSSL, the host by
 * checkServerIdentity, both in authorizationError), named from the
 * certificate itself. Undefined when it passed.
 */
function refusedCertificate(socket: TLSSocket, host: string, caFile: string | undefined): CertificateProblem | undefined {
  if (socket.authorized) return undefined;
  const reason = String(socket.authorizationError ?? 'unverified');
  const cert = socket.getPeerX509Certificate();
  const problem = cert ? serverCertificateProblem(certificateFacts(cert), new Date(), host, reason, caFile) : undefined;
  return problem ?? { kind: 'other-ca', subject: '', issuer: '', message: `TLS: the server certificate was refused (${reason})` };
}

function settledAttempt(endpoint: string, startedAt: number, error: string): HandshakeAttempt {
  return { endpoint, startedAt, outcome: () => error, tookMs: () => 0, settled: Promise.resolve(error), certificate: () => undefined, destroy: () => undefined };
}

/** What an attempt's outcome means to a probe: nothing (it answered), its error, or silence (said by `silence`). */
export function failureOf(outcome: string | undefined, silence: string, certificate?: CertificateProblem): HandshakeFailure | undefined {
  if (outcome === undefined) return { error: silence, silent: true };
  if (outcome === '') return undefined;
  return certificate ? { error: outcome, silent: false, certificate } : { error: outcome, silent: false };
}

/** The attempt's outcome if it comes within `ms`, else undefined (still silent). */
export async function outcomeWithin(attempt: HandshakeAttempt, ms: number): Promise<string | undefined> {
  const now = attempt.outcome();
  if (now !== undefined || ms <= 0) return now;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([attempt.settled, timeout]).finally(() => clearTimeout(timer));
}
