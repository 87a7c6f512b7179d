import { connect } from 'node:net';
/**
 * Where a socket to an endpoint URL connects: its host without IPv6
 * brackets, its port or the scheme's. Apart from the TLS handshake (which
 * loads node:tls), so that guards, which the runbook loader imports, need
 * only this.
 */
export function socketAddress(url: URL): { host: string; port: number } {
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) };
}

/** A TCP connection is accepted within the timeout (a frozen etcd still accepts: it counts as running). */
export function portAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  let address: { host: string; port: number };
  try {
    address = socketAddress(new URL(url));
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const socket = connect(address);
    const done = (answered: boolean): void => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
