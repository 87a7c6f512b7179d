import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runEditConfig, setDropInFlags, setEnvFlags, setManifestFlags, unifiedDiff, type EditConfigPlan } from '../../src/runbook/kinds/edit-config.js';
import { LocalTransport } from '../../src/transport/local.js';

const ENV = `# etcd, written by the installer
ETCD_NAME="m1"
ETCD_DATA_DIR=/var/lib/etcd
# ETCD_INITIAL_CLUSTER_STATE=new (commented out: kept)
ETCD_INITIAL_CLUSTER='m1=https://10.0.0.1:2380'
ETCD_INITIAL_CLUSTER_STATE=new
ETCD_LISTEN_PEER_URLS="https://10.0.0.1:2380"
`;

describe('setEnvFlags', () => {
  it('replaces each variable in place, keeping its quotes, comments and unrelated lines', () => {
    const out = setEnvFlags(ENV, [['initial-cluster', 'm1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380'], ['initial-cluster-state', 'existing'], ['name', 'm1']]);
    expect(out).toBe(`# etcd, written by the installer
ETCD_NAME="m1"
ETCD_DATA_DIR=/var/lib/etcd
# ETCD_INITIAL_CLUSTER_STATE=new (commented out: kept)
ETCD_INITIAL_CLUSTER='m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380'
ETCD_INITIAL_CLUSTER_STATE=existing
ETCD_LISTEN_PEER_URLS="https://10.0.0.1:2380"
`);
  });

  it('adds a missing variable at the end, double-quoted, and drops a later line that would override', () => {
    const out = setEnvFlags('ETCD_NAME=a\nexport ETCD_NAME=b\nOTHER=1', [['name', 'm2'], ['initial-cluster-token', 'tok 1']]);
    expect(out).toBe('ETCD_NAME=m2\nOTHER=1\nETCD_INITIAL_CLUSTER_TOKEN="tok 1"\n');
  });

  it('escapes what a double-quoted value cannot hold as is', () => {
    expect(setEnvFlags('', [['name', 'a"b$c']])).toBe('ETCD_NAME="a\\"b\\$c"\n');
  });
});

const MANIFEST = `apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://10.0.0.1:2379
    - --initial-cluster=m1=https://10.0.0.1:2380
    - --initial-cluster-state=new
    - --name=m1
    image: registry.k8s.io/etcd:3.5.15-0
    name: etcd
`;

describe('setManifestFlags', () => {
  it('replaces a flag in the etcd command and adds a missing one after the last, the rest of the file unchanged', () => {
    const out = setManifestFlags(MANIFEST, [['initial-cluster-state', 'existing'], ['initial-cluster-token', 'restore-1'], ['name', 'm1']]);
    expect(out).toBe(MANIFEST.replace('--initial-cluster-state=new', '--initial-cluster-state=existing').replace('    - --name=m1\n', '    - --name=m1\n    - --initial-cluster-token=restore-1\n'));
  });

  it('quotes a value YAML would otherwise misread, and refuses a manifest without an etcd command', () => {
    expect(setManifestFlags(MANIFEST, [['name', 'a: b']])).toContain('    - "--name=a: b"\n');
    expect(setManifestFlags(MANIFEST, [['initial-cluster', 'm1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380']])).toContain('    - --initial-cluster=m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380\n');
    expect(() => setManifestFlags('kind: Pod\n', [['name', 'm1']], '/etc/kubernetes/manifests/etcd.yaml')).toThrow(/no "- etcd" command line in \/etc\/kubernetes\/manifests\/etcd.yaml/);
  });
});

describe('unifiedDiff', () => {
  it('shows the changed lines with context, as diff -u does', () => {
    const before = 'a\nb\nc\nd\ne\nf\ng\nh\n';
    const after = 'a\nb\nc\nD\ne\nf\ng\nh\ni\n';
    expect(unifiedDiff('/f', before, after)).toBe(['--- /f', '+++ /f', '@@ -1,8 +1,9 @@', ' a', ' b', ' c', '-d', '+D', ' e', ' f', ' g', ' h', '+i'].join('\n'));
    expect(unifiedDiff('/f', before, before)).toBe('');
  });
});

describe('runEditConfig', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('backs the file up, renames the edited text into place with the old mode, and says the diff', async () => {
    dir = await mkdtemp(join(tmpdir(), 'edit-config-'));
    const path = join(dir, 'etcd.conf');
    await writeFile(path, ENV, { mode: 0o640 });
    const plan: EditConfigPlan = { format: 'env-file', path, flags: [['initial-cluster-state', 'existing']], backup: `${path}.bak-T`, temp: `${path}.tmp-T`, whenMissing: 'copy it' };
    const said: string[] = [];
    const io = { say: (t: string) => said.push(t), sayError: (t: string) => said.push(t), timeoutMs: 10_000 };
    const result = await runEditConfig(new LocalTransport('local'), plan, io);
    expect(result.ok).toBe(true);
    expect(await readFile(path, 'utf8')).toContain('ETCD_INITIAL_CLUSTER_STATE=existing\n');
    expect(await readFile(`${path}.bak-T`, 'utf8')).toBe(ENV);
    expect((await stat(path)).mode & 0o777).toBe(0o640);
    await expect(stat(`${path}.tmp-T`)).rejects.toThrow();
    expect(said.join('')).toContain('-ETCD_INITIAL_CLUSTER_STATE=new\n+ETCD_INITIAL_CLUSTER_STATE=existing');
    // again: nothing to change, the backup from the first time is kept
    const again = await runEditConfig(new LocalTransport('local'), plan, io);
    expect(again.ok).toBe(true);
    expect(said.at(-1)).toMatch(/already sets --initial-cluster-state: nothing to change/);
  });

  it('refuses while the live manifest is in the manifests dir, and when the file is missing', async () => {
    dir = await mkdtemp(join(tmpdir(), 'edit-config-'));
    const live = join(dir, 'etcd.yaml');
    await writeFile(live, MANIFEST);
    const io = { say: () => {}, sayError: () => {}, timeoutMs: 10_000 };
    const plan: EditConfigPlan = { format: 'static-pod', path: join(dir, 'etcd.yaml.stopped'), flags: [['name', 'm1']], backup: 'b', temp: 't', refuseIfExists: live, whenMissing: 'park it' };
    expect((await runEditConfig(new LocalTransport('local'), plan, io)).error).toMatch(/is still in the manifests dir: stop etcd first/);
    expect((await runEditConfig(new LocalTransport('local'), { ...plan, refuseIfExists: undefined }, io)).error).toMatch(/etcd.yaml.stopped on local is missing: park it/);
  });
});

describe('setDropInFlags', () => {
  const UNIT = `[Unit]
Description=Etcd Server

[Service]
Type=notify
ExecStart=/opt/kube/bin/etcd \\
  --name=etcd-10.0.0.1 \\
  --data-dir=/var/lib/etcd \\
  --initial-cluster-state new \\
  --initial-cluster=etcd-10.0.0.1=https://10.0.0.1:2380,etcd-10.0.0.2=https://10.0.0.2:2380
Restart=always
`;

  it('resets ExecStart and declares it again with each flag set, in both --flag=value and --flag value forms, a missing flag added', () => {
    const out = setDropInFlags(UNIT, '', [['initial-cluster-state', 'existing'], ['initial-cluster-token', 'restore-1']]);
    expect(out).toBe(`# written by etcd-runbook: etcd's flags for the recovered cluster (ExecStart reset, then declared again)
[Service]
ExecStart=
ExecStart=/opt/kube/bin/etcd \\
  --name=etcd-10.0.0.1 \\
  --data-dir=/var/lib/etcd \\
  --initial-cluster-state=existing \\
  --initial-cluster=etcd-10.0.0.1=https://10.0.0.1:2380,etcd-10.0.0.2=https://10.0.0.2:2380 \\
  --initial-cluster-token=restore-1
`);
  });

  it('edits the drop-in it wrote before rather than the unit, and systemd reads the result back as the same command', async () => {
    const first = setDropInFlags(UNIT, '', [['initial-cluster-state', 'existing']]);
    const second = setDropInFlags(UNIT, first, [['name', 'etcd a']]);
    expect(second).toContain('  "--name=etcd a" \\\n');
    expect(second).toContain('--initial-cluster-state=existing');
    const { parseSystemdUnit } = await import('../../src/inventory/systemd.js');
    expect(parseSystemdUnit(`${UNIT}\n${second}`, 'etcd.service').execStart).toContain('--name=etcd a');
  });
});
