import { readFile } from 'node:fs/promises';

/**
 * The client TLS material, read once. Apart from the probe (which loads the
 * gRPC client), so that resolving a cluster target costs no gRPC import:
 * the interactive view draws its first frame before that.
 */
export interface ClientTls {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export async function loadClientTls(files: { cacert?: string; cert?: string; key?: string }): Promise<ClientTls | undefined> {
  if (!files.cacert) return undefined;
  const [ca, cert, key] = await Promise.all([
    readFile(files.cacert),
    files.cert ? readFile(files.cert) : undefined,
    files.key ? readFile(files.key) : undefined,
  ]);
  return { ca, cert, key };
}
