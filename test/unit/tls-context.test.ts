import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadClientTls, secureContextFor, type ClientTls } from '../../src/cluster/tls.js';
import { createPki, issueMemberCert, type LabPki } from '../../src/lab/pki.js';

let dir: string;
let pki: LabPki;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tls-context-'));
  pki = await createPki(join(dir, 'pki'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(files: { cacert: string; cert?: string; key?: string }): Promise<ClientTls> {
  const tls = await loadClientTls(files);
  if (!tls) throw new Error('the TLS files did not load');
  return tls;
}

describe('secureContextFor', () => {
  it('makes one context for the same client files loaded twice (a drill reads them for its lab and for its run)', async () => {
    const files = { cacert: pki.caCert, cert: pki.clientCert, key: pki.clientKey };
    const first = await load(files);
    const again = await load(files);
    expect(again).not.toBe(first);
    expect(secureContextFor(again)).toBe(secureContextFor(first));
  });

  it('makes another context for other files', async () => {
    const client = await load({ cacert: pki.caCert, cert: pki.clientCert, key: pki.clientKey });
    const member = await issueMemberCert(pki, 'm1', '127.0.0.11');
    const other = await load({ cacert: pki.caCert, cert: member.cert, key: member.key });
    const caOnly = await load({ cacert: pki.caCert });
    expect(secureContextFor(other)).not.toBe(secureContextFor(client));
    expect(secureContextFor(caOnly)).not.toBe(secureContextFor(client));
  });
});
