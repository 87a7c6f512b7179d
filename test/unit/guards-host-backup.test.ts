import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterClient } from '../../src/cluster/client.js';
import { createPki, issueMemberCert, type LabPki, type MemberCert } from '../../src/lab/pki.js';
import { evaluateGuard, judgeHostBackup, type GuardEnvironment, type GuardMember, type HostBackupFacts } from '../../src/runbook/guards/index.js';
import { LocalTransport } from '../../src/transport/local.js';

const PEER = 'https://10.0.0.3:2380';

function kubeadmFacts(over: Partial<HostBackupFacts> = {}): HostBackupFacts {
  const b = '/backup/m3';
  return {
    member: 'm3',
    layout: 'kubeadm',
    backup: b,
    peerURL: PEER,
    address: '10.0.0.3',
    required: [{ path: `${b}/etc/kubernetes/admin.conf`, present: true }, { path: `${b}/etc/kubernetes/pki/etcd/ca.key`, present: true }],
    oneOf: [{ path: `${b}/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf`, present: true }, { path: `${b}/etc/systemd/system/kubelet.service.d/10-kubeadm.conf`, present: false }],
    config: { path: `${b}/etc/kubernetes/manifests/etcd.yaml`, advertises: true },
    pkiDir: `${b}/etc/kubernetes/pki/etcd`,
    certs: (['server', 'peer'] as const).map((role) => ({ role, path: `${b}/etc/kubernetes/pki/etcd/${role}.crt`, present: true, matches: true, expired: false, notAfter: 'Jan  1 00:00:00 2030 GMT' })),
    ...over,
  };
}

describe('host-backup-complete judgement', () => {
  it('passes a complete backup of this member, naming the files and how long each certificate is valid', () => {
    const judged = judgeHostBackup(kubeadmFacts());
    expect(judged.ok).toBe(true);
    expect(judged.message).toContain('/backup/m3/etc/kubernetes/admin.conf');
    expect(judged.message).toContain('server.crt is valid for 10.0.0.3 until Jan  1 00:00:00 2030 GMT');
    expect(judged.message).toContain('peer.crt is valid for 10.0.0.3');
  });

  it('refuses missing files, all named on one line, and a drop-in in neither place', () => {
    const facts = kubeadmFacts();
    const judged = judgeHostBackup({
      ...facts,
      required: facts.required.map((f) => ({ ...f, present: false })),
      oneOf: facts.oneOf.map((f) => ({ ...f, present: false })),
    });
    expect(judged.ok).toBe(false);
    expect(judged.message).toMatch(/^refusing: the backup of m3 is incomplete, missing or empty: \/backup\/m3\/etc\/kubernetes\/admin.conf, \/backup\/m3\/etc\/kubernetes\/pki\/etcd\/ca.key, the kubelet drop-in 10-kubeadm.conf \(.* or .*\); give hostBackup/);
    expect(judged.message).not.toContain('\n');
  });

  it('refuses another member\'s backup before looking at its certificates', () => {
    const judged = judgeHostBackup(kubeadmFacts({ config: { path: '/backup/m3/etc/kubernetes/manifests/etcd.yaml', advertises: false } }));
    expect(judged).toEqual({ ok: false, message: `refusing: /backup/m3/etc/kubernetes/manifests/etcd.yaml does not advertise ${PEER}: this is not the backup of m3` });
  });

  it('refuses a certificate for another address or expired, saying how kubeadm makes a new one', () => {
    const wrong = kubeadmFacts();
    wrong.certs[0] = { ...wrong.certs[0]!, matches: false };
    expect(judgeHostBackup(wrong).message).toBe('refusing: /backup/m3/etc/kubernetes/pki/etcd/server.crt is not valid for 10.0.0.3: regenerate it (kubeadm init phase certs etcd-server) or use this host\'s backup');
    const expired = kubeadmFacts();
    expired.certs[1] = { ...expired.certs[1]!, expired: true };
    expect(judgeHostBackup(expired).message).toBe('refusing: /backup/m3/etc/kubernetes/pki/etcd/peer.crt has expired: renew it before restoring (kubeadm certs renew etcd-peer)');
  });

  it('systemd: refuses an env file without the certificate variable, or naming a certificate the backup lacks', () => {
    const base = kubeadmFacts({ layout: 'systemd', oneOf: [], config: { path: '/backup/m3/etc/etcd/etcd.conf', advertises: true }, pkiDir: '/backup/m3/etc/etcd/pki' });
    const unset = { ...base, certs: [{ role: 'server' as const, path: '/backup/m3/etc/etcd/pki', present: false, variable: 'ETCD_CERT_FILE', configured: '' }] };
    expect(judgeHostBackup(unset).message).toBe('refusing: /backup/m3/etc/etcd/etcd.conf sets no ETCD_CERT_FILE');
    const absent = { ...base, certs: [{ role: 'peer' as const, path: '/backup/m3/etc/etcd/pki/p.crt', present: false, variable: 'ETCD_PEER_CERT_FILE', configured: '/etc/etcd/pki/p.crt' }] };
    expect(judgeHostBackup(absent).message).toBe('refusing: ETCD_PEER_CERT_FILE /etc/etcd/pki/p.crt is not in the backup\'s /backup/m3/etc/etcd/pki');
    const wrong = { ...base, certs: [{ role: 'server' as const, path: '/backup/m3/etc/etcd/pki/s.crt', present: true, matches: false, expired: false }] };
    expect(judgeHostBackup(wrong).message).toBe('refusing: /backup/m3/etc/etcd/pki/s.crt is not valid for 10.0.0.3: reissue it for this host or use this host\'s backup');
  });
});

/** The guard on backups laid out as the backup runbook makes them, with real certificates checked by openssl. */
describe('host-backup-complete on real files', () => {
  let dir: string;
  let pki: LabPki;
  let mine: MemberCert;
  let other: MemberCert;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'host-backup-'));
    pki = await createPki(join(dir, 'pki'));
    mine = await issueMemberCert(pki, 'm3', '10.0.0.3');
    other = await issueMemberCert(pki, 'm2', '10.0.0.2');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const put = async (path: string, text: string) => {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  };
  const member = (paths: Record<string, string>): GuardMember => ({ name: 'm3', peerURL: PEER, clientURL: 'https://10.0.0.3:2379', hostPaths: paths });
  const envOf = (m: GuardMember): GuardEnvironment => ({
    probe: () => Promise.reject(new Error('not asked')),
    transport: (node) => new LocalTransport(node),
    client: {} as ClusterClient,
    members: [m],
  });
  const check = (m: GuardMember, layout: string, backup: string) =>
    evaluateGuard({ check: 'host-backup-complete', params: { member: 'm3', layout, backup }, overridable: false, description: '' }, envOf(m));

  it('systemd: the env file\'s certificates, found in the backup\'s pki dir, valid for the peer address; another host\'s refused', async () => {
    const backup = join(dir, 'systemd');
    const paths = { envFile: '/etc/etcd/etcd.conf', unitFile: '/etc/systemd/system/etcd.service', pkiDir: '/etc/etcd/pki' };
    await put(join(backup, paths.envFile), `ETCD_INITIAL_ADVERTISE_PEER_URLS="${PEER}"\nETCD_CERT_FILE=/etc/etcd/pki/server.crt\nETCD_PEER_CERT_FILE="/etc/etcd/pki/peer.crt"\n`);
    await put(join(backup, paths.unitFile), '[Service]\nExecStart=/usr/bin/etcd\n');
    await mkdir(join(backup, paths.pkiDir), { recursive: true });
    await copyFile(mine.cert, join(backup, paths.pkiDir, 'server.crt'));
    await copyFile(mine.cert, join(backup, paths.pkiDir, 'peer.crt'));
    const ok = await check(member(paths), 'systemd', backup);
    expect(ok.message).toMatch(/server\.crt is valid for 10\.0\.0\.3 until .*; peer\.crt is valid for 10\.0\.0\.3/);
    expect(ok.ok).toBe(true);

    await copyFile(other.cert, join(backup, paths.pkiDir, 'peer.crt'));
    const wrong = await check(member(paths), 'systemd', backup);
    expect(wrong).toMatchObject({ ok: false, message: `refusing: ${join(backup, paths.pkiDir, 'peer.crt')} is not valid for 10.0.0.3: reissue it for this host or use this host's backup` });
  });

  it('kubeadm: a missing file and a manifest of another member are refused; the layout must be known', async () => {
    const backup = join(dir, 'kubeadm');
    const paths = { kubernetesDir: '/etc/kubernetes', pkiDir: '/etc/kubernetes/pki', kubeletDir: '/var/lib/kubelet', kubeletDropIn: '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf', kubeletPackageDropIn: '/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf' };
    await put(join(backup, '/etc/kubernetes/manifests/etcd.yaml'), '    - --initial-advertise-peer-urls=https://10.0.0.2:2380\n');
    for (const f of ['/etc/kubernetes/manifests/kube-apiserver.yaml', '/etc/kubernetes/admin.conf', '/var/lib/kubelet/config.yaml', paths.kubeletPackageDropIn]) await put(join(backup, f), 'x\n');
    for (const f of ['ca.crt', 'ca.key', 'server.key', 'peer.key']) await put(join(backup, paths.pkiDir, 'etcd', f), 'x\n');
    await copyFile(mine.cert, join(backup, paths.pkiDir, 'etcd', 'server.crt'));
    const missing = await check(member(paths), 'kubeadm', backup);
    expect(missing).toMatchObject({ ok: false, message: `refusing: the backup of m3 is incomplete, missing or empty: ${join(backup, paths.pkiDir, 'etcd', 'peer.crt')}; give hostBackup the old host's complete copy (nothing was changed)` });

    await copyFile(mine.cert, join(backup, paths.pkiDir, 'etcd', 'peer.crt'));
    const m2s = await check(member(paths), 'kubeadm', backup);
    expect(m2s.message).toContain('does not advertise https://10.0.0.3:2380: this is not the backup of m3');

    await put(join(backup, '/etc/kubernetes/manifests/etcd.yaml'), `    - --initial-advertise-peer-urls=${PEER}\n`);
    expect((await check(member(paths), 'kubeadm', backup)).ok).toBe(true);
    expect((await check(member(paths), 'binary', backup)).message).toBe('m3 has layout "binary": a master\'s files are known for kubeadm and systemd masters only: nothing was changed');
  });
});
