/**
 * Where a socket to an endpoint URL connects: its host without IPv6
 * brackets, its port or the scheme's. Apart from the TLS handshake (which
 * loads node:tls), so that guards, which the runbook loader imports, need
 * only this.
 */
export function socketAddress(url: URL): { host: string; port: number } {
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) };
}
