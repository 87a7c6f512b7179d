import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { configPath, podSpec, staticPodPath } from '../../src/lab/lab-kubelet.js';
import { etcdManifest } from '../../src/lab/layouts.js';

describe('the lab kubelet reads what a kubelet reads', () => {
  it('finds --config in either form, as the kubeadm drop-in passes it among other flags', () => {
    expect(configPath(['--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf', '--config=/var/lib/kubelet/config.yaml', '--x'])).toBe('/var/lib/kubelet/config.yaml');
    expect(configPath(['--config', '/etc/k.yaml'])).toBe('/etc/k.yaml');
    expect(configPath(['--kubeconfig=/etc/kubernetes/kubelet.conf'])).toBeUndefined();
  });

  it('takes staticPodPath from the KubeletConfiguration; none means no static pods', () => {
    expect(staticPodPath('kind: KubeletConfiguration\nstaticPodPath: /etc/kubernetes/manifests\n')).toBe('/etc/kubernetes/manifests');
    expect(staticPodPath('kind: KubeletConfiguration\n')).toBeUndefined();
  });

  it("runs a kubeadm etcd pod's container command, with a 30 s grace by default", () => {
    const member = { name: 'm1', ip: '127.0.0.11', clientURL: 'https://127.0.0.11:2379', peerURL: 'https://127.0.0.11:2380' };
    const spec = podSpec(etcdManifest(member, { initialCluster: `m1=${member.peerURL}`, token: 't' }, '3.5.16'));
    expect(spec.name).toBe('kube-system/etcd');
    expect(spec.argv[0]).toBe('etcd');
    expect(spec.argv).toContain('--name=m1');
    expect(spec.argv).toContain('--data-dir=/var/lib/etcd');
    expect(spec.graceMs).toBe(30_000);
  });

  it('appends args to command, passes env, honours terminationGracePeriodSeconds, and refuses a pod with nothing to run', () => {
    const pod = (container: object, extra: object = {}) => stringify({ metadata: { name: 'p', namespace: 'ns' }, spec: { containers: [container], ...extra } });
    expect(podSpec(pod({ name: 'c', command: ['sleep'], args: ['1'], env: [{ name: 'A', value: 'b' }] }, { terminationGracePeriodSeconds: 2 }))).toEqual({
      name: 'ns/p',
      argv: ['sleep', '1'],
      env: { A: 'b' },
      graceMs: 2000,
    });
    expect(() => podSpec(pod({ name: 'c' }))).toThrow('container c has no command');
    expect(() => podSpec(stringify({ spec: {} }))).toThrow('no containers');
  });
});
