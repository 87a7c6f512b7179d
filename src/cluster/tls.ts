import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContext } from 'node:tls';

/**
 * The client TLS material, read once. Apart from the probe (which loads the
 * gRPC client), so that resolving a cluster target costs no gRPC import:
 * the interactive view draws its first frame before that.
 */
export interface ClientTls {
  ca: Buffer;
  /** where the CA came from: named when a member's certificate is signed by another */
  caFile?: string;
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
  return { ca, caFile: files.cacert, cert, key };
}

const contexts = new WeakMap<ClientTls, SecureContext>();
/** the same files loaded twice (a drill's lab and its run read them apart) still make one context */
const contextsByContent = new Map<string, SecureContext>();

/**
 * One TLS context per set of client files: building one parses the CA, the
 * certificate and the private key again (about a millisecond of CPU), and a
 * probe connects anew to every member that is down, on every probe of a run.
 */
export function secureContextFor(tls: ClientTls): SecureContext {
  let context = contexts.get(tls);
  if (!context) {
    const key = contentKey(tls);
    context = contextsByContent.get(key) ?? createSecureContext({ ca: tls.ca, cert: tls.cert, key: tls.key });
    contextsByContent.set(key, context);
    contexts.set(tls, context);
  }
  return context;
}

function contentKey(tls: ClientTls): string {
  const hash = createHash('sha256');
  for (const part of [tls.ca, tls.cert, tls.key]) {
    // the length first: no two different sets of files hash alike by shifting bytes between them
    hash.update(`${part ? part.length : -1}:`);
    if (part) hash.update(part);
  }
  return hash.digest('hex');
}
