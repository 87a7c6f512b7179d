import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OutputRedactor, redact } from '../../src/engine/redact.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const PKCS8 = rsa.export({ type: 'pkcs8', format: 'pem' }).toString();
const PKCS1 = rsa.export({ type: 'pkcs1', format: 'pem' }).toString();
const EC = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString();
/** a line of base64 from the middle of the key: must never survive */
const bodyLine = (pem: string): string => pem.split('\n')[1]!;

describe('redact', () => {
  it.each([
    ['PKCS#8', PKCS8, 'PRIVATE KEY'],
    ['PKCS#1 RSA', PKCS1, 'RSA PRIVATE KEY'],
    ['SEC1 EC', EC, 'EC PRIVATE KEY'],
  ])('replaces the body of a real %s private key and keeps the text around it', (_name, pem, label) => {
    const out = redact(`before\n${pem}after\n`);
    expect(out).toBe(`before\n-----BEGIN ${label}-----\n[REDACTED]\n-----END ${label}-----\nafter\n`);
    expect(out).not.toContain(bodyLine(pem).slice(0, 20));
  });

  it('redacts a key with no END to the end of the text (fail closed)', () => {
    const cut = PKCS8.slice(0, 400);
    const out = redact(`x\n${cut}`);
    expect(out).toBe(`x\n-----BEGIN PRIVATE KEY-----\n[REDACTED]`);
  });

  it('redacts text before an END with no BEGIN (a tail cut inside a key)', () => {
    const tail = PKCS8.slice(200);
    expect(redact(tail)).toBe('[REDACTED]\n-----END PRIVATE KEY-----\n');
  });

  it('leaves a certificate and a public key alone', () => {
    const pub = rsa.export({ type: 'pkcs1', format: 'pem' }).toString().replace(/PRIVATE/g, 'PUBLIC');
    expect(redact(pub)).toBe(pub);
  });

  it.each([
    ['etcdctl --user root --password=hunter2 member list', 'etcdctl --user root --password=[REDACTED] member list'],
    ['etcdctl --password hunter2 member list', 'etcdctl --password [REDACTED] member list'],
    ["etcdctl --password='hun ter2' get x", 'etcdctl --password=[REDACTED] get x'],
    ["etcdctl --password 'it'\\''s' get x", 'etcdctl --password [REDACTED] get x'],
    ['etcdctl user passwd root --new-password=s3cret', 'etcdctl user passwd root --new-password=[REDACTED]'],
    ['openssl rsa --passphrase sw0rdfish -in k', 'openssl rsa --passphrase [REDACTED] -in k'],
    ['ETCDCTL_PASSWORD=hunter2 etcdctl get x', 'ETCDCTL_PASSWORD=[REDACTED] etcdctl get x'],
    ["export ETCDCTL_PASSWORD='hunter2'", 'export ETCDCTL_PASSWORD=[REDACTED]'],
    ['ETCDCTL_PASSWORD: hunter2', 'ETCDCTL_PASSWORD: [REDACTED]'],
    ['etcdctl --user root:hunter2 member list', 'etcdctl --user root:[REDACTED] member list'],
    ['etcdctl --user=root:hunter2 member list', 'etcdctl --user=root:[REDACTED] member list'],
    ["etcdctl --user 'root:hun;ter2' member list", "etcdctl --user 'root:[REDACTED]' member list"],
  ])('redacts the password in %s', (input, expected) => {
    expect(redact(input)).toBe(expected);
    expect(redact(expected)).toBe(expected);
  });

  it('leaves --user without a password and ordinary commands alone', () => {
    for (const text of ['etcdctl --user root member list', 'etcdctl --cert /etc/kubernetes/pki/etcd/server.key endpoint health', 'password policy: strong']) {
      expect(redact(text)).toBe(text);
    }
  });

  it('is idempotent', () => {
    const once = redact(`${PKCS8}--password=x ETCDCTL_PASSWORD=y --user a:b`);
    expect(redact(once)).toBe(once);
  });
});

describe('OutputRedactor', () => {
  it('redacts a key streamed in small chunks, whatever the chunk boundaries', () => {
    const text = `cat key\n${PKCS8}done\n`;
    for (const size of [1, 7, 64, 333]) {
      const r = new OutputRedactor();
      let out = '';
      for (let i = 0; i < text.length; i += size) out += r.push(text.slice(i, i + size));
      expect(out, `chunks of ${size}`).not.toMatch(/MII|[A-Za-z0-9+/]{40}/);
      expect(out).toContain('done\n');
      expect(out).toContain('cat key\n');
    }
  });

  it('redacts a password whose flag and value arrive in different chunks', () => {
    const r = new OutputRedactor();
    const out = r.push('running etcdctl --pass') + r.push('word=hunter2 get x\n');
    expect(out).not.toContain('hunter2');
  });

  it('passes ordinary output through unchanged', () => {
    const r = new OutputRedactor();
    expect(r.push('Snapshot saved at /var/lib/etcd-backup/snap.db\n')).toBe('Snapshot saved at /var/lib/etcd-backup/snap.db\n');
  });
});
