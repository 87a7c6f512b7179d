import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabCluster } from '../../src/lab/cluster.js';
import { injectFault } from '../../src/lab/faults.js';
import { NODE_PATHS } from '../../src/lab/layouts.js';
import { runCli } from '../helpers/cli.js';
import { expectHealthyStatus, expectKeysOnEveryMember, knownKeys, memberListing, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * renew-certificates on 3 real lab nodes (etcd 3.5) whose m3 serves a
 * certificate that expired a week ago: status names it and proposes the
 * runbook; plan shows the openssl commands; a run without the CA key on the
 * master refuses before anything changes; with it, every member's
 * certificates are renewed (subject, SANs and key kept, the old file aside)
 * and etcd restarted one member at a time, back to healthy with every key.
 */
for (const layout of ['systemd', 'kubeadm'] as const) {
  describe(`renew-certificates (${layout})`, () => {
    const keys = knownKeys(20);
    let lab: LabCluster;
    let work: string;
    const etcdPki = (name: string) => (layout === 'kubeadm' ? NODE_PATHS.kubeadm.etcdPki : lab.member(name).pkiDir);
    /** a file of the member's node, by its own path */
    const nodeFile = (name: string, path: string) => lab.member(name).node!.readFile(path);
    /** a directory's entries on the member's node */
    const nodeDir = async (name: string, dir: string) => {
      const names = await memberListing(lab.member(name), dir);
      return names === 'absent' ? [] : names;
    };
    const nodeMove = async (name: string, from: string, to: string) => {
      const moved = await lab.member(name).node!.exec(['mv', '--', from, to]);
      expect(moved.exitCode, moved.stderr).toBe(0);
    };
    const run = (...extra: string[]) =>
      runCli(['run', 'renew-certificates', '--yes', '--inventory', lab.inventoryPath, '--journal-dir', join(work, 'journal'), ...extra], {}, 180_000);

    beforeAll(async () => {
      ({ lab, work } = await startKeyedLab({ members: 3, layout, etcd: '3.5' }, `renew-${layout}`, keys));
      await injectFault(lab, 'expired-certs');
    }, 180_000);
    afterAll(() => stopKeyedLab(lab, work), 60_000);

    it('status names the expired member and the date, and proposes renew-certificates', async () => {
      const result = await runCli(['status', '--json', '--inventory', lab.inventoryPath]);
      const json = JSON.parse(result.stdout) as { verdict: string; recommendedRunbook: string | null; advice: string | null; alternatives: string[] };
      expect(result.exitCode).toBe(1);
      expect(json.verdict).toBe('minority-lost');
      expect(json.recommendedRunbook).toBe('renew-certificates');
      expect(json.alternatives).toContain('replace-member');
      expect(json.advice).toMatch(/^the server certificate of m3 expired: renew the certificates/);
      expect(result.stdout).toMatch(/expired \d{4}-\d{2}-\d{2}/);
    });

    it('plan shows the openssl commands, the CA on m1 and the old files moved aside', async () => {
      const result = await runCli(['plan', 'renew-certificates', '--inventory', lab.inventoryPath]);
      expect(result.exitCode, result.stderr).toBe(0);
      const ca = join(etcdPki('m1'), 'ca.key');
      expect(result.stdout).toContain(`openssl x509 -req -CA ${join(etcdPki('m1'), 'ca.crt')} -CAkey ${ca} -days 365`);
      expect(result.stdout).toMatch(new RegExp(`mv -- ${join(etcdPki('m3'), 'server.crt')} ${join(etcdPki('m3'), 'server.crt')}\\.old-\\d`));
      if (layout === 'kubeadm') {
        expect(result.stdout).toContain('kubeadm certs renew etcd-server etcd-peer etcd-healthcheck-client apiserver-etcd-client');
        expect(result.stdout).toContain(join(lab.member('m2').pkiDir, 'apiserver-etcd-client.crt'));
      }
    });

    it('refuses, before any change, when the CA key is not on the master: one line naming the member and the file', async () => {
      const caKey = join(etcdPki('m1'), 'ca.key');
      const before = await nodeFile('m3', join(etcdPki('m3'), 'server.crt'));
      await nodeMove('m1', caKey, `${caKey}.away`);
      try {
        const result = await run();
        expect(result.exitCode).toBe(5);
        expect(result.stdout + result.stderr).toContain(`the CA key ${caKey} is not on m1: certificates are renewed from the CA that issued them`);
        expect(await nodeFile('m3', join(etcdPki('m3'), 'server.crt'))).toBe(before);
        expect((await nodeDir('m3', etcdPki('m3'))).filter((f) => f.includes('.old-'))).toEqual([]);
      } finally {
        await nodeMove('m1', `${caKey}.away`, caKey);
      }
    });

    it('a dry run records the openssl commands and changes no file', async () => {
      const pki = etcdPki('m3');
      const before = await nodeFile('m3', join(pki, 'server.crt'));
      const result = await run('--dry-run');
      expect(result.exitCode, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toContain('guard pass ca-present');
      expect(result.stdout).toMatch(/openssl x509 -x509toreq -in \S+server\.crt\.old-\d/);
      expect(await nodeFile('m3', join(pki, 'server.crt'))).toBe(before);
      expect((await nodeDir('m3', pki)).filter((f) => f.includes('.old-'))).toEqual([]);
    });

    it('refuses a CA node that is not a member, naming the members', async () => {
      const result = await run('--set', 'caNode=m9');
      expect(result.exitCode).toBe(4);
      expect(result.stderr).toMatch(/m9/);
    });

    it('renews every certificate from the CA (subject, SANs and key kept, old aside), restarts one member at a time: healthy, every key kept', async () => {
      const pki = etcdPki('m3');
      const old = new X509Certificate(await nodeFile('m3', join(pki, 'server.crt')));
      const oldKey = await nodeFile('m3', join(pki, 'server.key'));
      expect(new Date(old.validTo).getTime()).toBeLessThan(Date.now());

      const result = await run();
      expect(result.exitCode, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toContain('run succeeded');
      expect(result.stdout).toMatch(/renewed .*server\.crt on m3: valid until/);

      const renewed = new X509Certificate(await nodeFile('m3', join(pki, 'server.crt')));
      expect(renewed.subject).toBe(old.subject);
      expect(renewed.subjectAltName).toBe(old.subjectAltName);
      expect(new Date(renewed.validTo).getTime()).toBeGreaterThan(Date.now() + 300 * 24 * 3600 * 1000);
      expect(await nodeFile('m3', join(pki, 'server.key'))).toBe(oldKey);
      const aside = (await nodeDir('m3', pki)).filter((f) => f.startsWith('server.crt.old-'));
      expect(aside).toHaveLength(1);
      expect(await nodeFile('m3', join(pki, aside[0] as string))).toBe(old.toString());
      if (layout === 'kubeadm') {
        const client = (await nodeDir('m2', lab.member('m2').pkiDir)).filter((f) => f.startsWith('apiserver-etcd-client.crt.old-'));
        expect(client).toHaveLength(1);
      }
      await expectHealthyStatus(lab);
      await expectKeysOnEveryMember(lab, keys);
    });

    it('refuses on a cluster without quorum, before any certificate changes (restarting members one at a time needs quorum)', async () => {
      await lab.kill('m2');
      await lab.kill('m3');
      const before = await nodeFile('m1', join(etcdPki('m1'), 'server.crt'));
      const result = await run();
      expect(result.exitCode).toBe(4);
      expect(result.stderr).toContain('refusing to run renew-certificates: it applies to minority-lost, healthy, and the cluster is quorum-lost now');
      expect(await nodeFile('m1', join(etcdPki('m1'), 'server.crt'))).toBe(before);
    });
  });
}
