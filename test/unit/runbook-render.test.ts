import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planMarkdown, planText } from '../../src/cli/plan.js';
import type { ClusterReport, MemberState } from '../../src/cluster/types.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { buildContext } from '../../src/runbook/context.js';
import { findRunbook, parseRunbook } from '../../src/runbook/loader.js';
import { renderRunbook, resolveInputs, type RenderSources } from '../../src/runbook/render.js';
import type { Runbook } from '../../src/runbook/schema.js';
import { renderTemplate } from '../../src/runbook/template.js';

const inventory: Inventory = {
  cluster: { name: 'prod', token: 'etcd-cluster-0' },
  tls: { cacert: '/etc/etcd/ca.pem' },
  members: [
    { name: 'm1', peerURLs: ['https://10.0.0.1:2380'], clientURLs: ['https://10.0.0.1:2379'], node: { host: 'local', layout: 'systemd', paths: { dataDir: '/var/lib/etcd', backupDir: '/srv/etcd-backups' } } },
    { name: 'm2', peerURLs: ['https://10.0.0.2:2380'], clientURLs: ['https://10.0.0.2:2379'], node: { host: '10.0.0.2', ssh: { user: 'root' }, layout: 'systemd', paths: { dataDir: '/var/lib/etcd' } } },
    {
      name: 'm3',
      peerURLs: ['https://10.0.0.3:2380'],
      clientURLs: ['https://10.0.0.3:2379'],
      node: { host: '10.0.0.3', ssh: { user: 'admin', port: 2222 }, layout: 'kubeadm', paths: { dataDir: '/var/lib/etcd', manifestsDir: '/etc/kubernetes/manifests' } },
    },
  ],
};

function report(unhealthy: string[]): ClusterReport {
  const ids: Record<string, string> = { m1: '8e9e05c52164694d', m2: '91bc3c398fb3c146', m3: 'fd422379fda50e48' };
  const members: MemberState[] = ['m1', 'm2', 'm3'].map((name) => ({
    id: ids[name],
    name,
    isLearner: false,
    unstarted: false,
    healthy: !unhealthy.includes(name),
    reachable: !unhealthy.includes(name),
  }));
  const healthy = 3 - unhealthy.length;
  return {
    probedAt: '2026-11-24T18:30:00Z',
    durationMs: 40,
    endpoints: ['m1', 'm2', 'm3'].map((name, i) => ({
      endpoint: `https://10.0.0.${i + 1}:2379`,
      expectedName: name,
      reachable: !unhealthy.includes(name),
      ...(unhealthy.includes(name) ? {} : { name, memberId: ids[name], leaderId: ids.m1, revision: 100 + i }),
      alarms: [],
      memberErrors: [],
      healthy: !unhealthy.includes(name),
      latencyMs: 3,
    })),
    verdict: {
      verdict: unhealthy.length === 0 ? 'healthy' : 'minority-lost',
      summary: unhealthy.length === 0 ? 'all 3 members healthy' : `${unhealthy.join(', ')} down, quorum held`,
      evidence: [],
      warnings: [],
      alarms: [],
      alternatives: [],
      votingMembers: 3,
      healthyVoting: healthy,
      quorumSize: 2,
      members,
      clusterIds: ['cdf818194e3a8c32'],
      leaders: [ids.m1 as string],
    },
  };
}

const run = { id: '20261124T183000Z-tiny-plan', timestamp: '20261124T183000Z' };
const tiny = (): Runbook => parseRunbook(readFileSync('test/fixtures/runbooks/lint/valid.yaml', 'utf8'), 'valid.yaml');
const sources = (over: Partial<RenderSources> = {}): RenderSources => ({ inventory, report: report(['m3']), inputs: {}, run, ...over });

describe('the render context', () => {
  it('fills cluster, detection, tls and member records from inventory and probe', () => {
    const ctx = buildContext({ inventory, report: report(['m3']), inputs: { member: 'm3' }, run });
    const plain = (t: string) => renderTemplate(t, ctx, { shell: false });
    expect(plain('{{ cluster.initialCluster }}')).toBe('m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380');
    expect(plain('{{ cluster.endpoints }}')).toBe('https://10.0.0.1:2379,https://10.0.0.2:2379,https://10.0.0.3:2379');
    expect(plain('{{ cluster.newToken }} {{ cluster.token }} {{ cluster.memberCount }}')).toBe('prod-restore-20261124T183000Z etcd-cluster-0 3');
    expect(plain('{{ detection.verdict }} {{ detection.leader }} {{ detection.healthyMembers }} {{ detection.unhealthyMembers }} {{ detection.highestRevisionMember }}')).toBe(
      'minority-lost m1 m1,m2 m3 m2',
    );
    expect(plain('{{ target.id }} {{ target.host }} {{ target.layout }} {{ local.name }} {{ tools.backupDir }} {{ tools.etcdctl }}')).toBe(
      'fd422379fda50e48 10.0.0.3 kubeadm m1 /srv/etcd-backups etcdctl',
    );
    expect(plain('{{ target.service.stop }} / {{ target.service.start }} / {{ target.service.isActive }}')).toBe(
      'mv -- /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/etcd.yaml.stopped / mv -- /etc/kubernetes/etcd.yaml.stopped /etc/kubernetes/manifests/etcd.yaml / test -f /etc/kubernetes/manifests/etcd.yaml',
    );
    // a starting etcd (activating: waiting for quorum, or between two restarts) counts as running
    expect(plain('{{ local.service.isActive }}')).toBe("systemctl is-active etcd | grep -qE '^(active|activating|deactivating|reloading)$'");
    expect(plain('{{ local.kubelet.isActive }}')).toBe('systemctl is-active --quiet kubelet');
  });

  it('says which inventory field to set when a value is missing', () => {
    const ctx = buildContext({ inventory, report: report([]), inputs: { member: 'm2' }, run });
    expect(() => renderTemplate('{{ target.pkiDir }}', ctx, { shell: true })).toThrow('{{ target.pkiDir }}: m2 has no pkiDir: set members[1].node.paths.pkiDir in the inventory');
    expect(() => renderTemplate('{{ tls.key }}', ctx, { shell: true })).toThrow('{{ tls.key }}: no client key: set tls.key in the inventory (or pass --key)');
  });

  it('knows how to stop and start the kubelet and the control plane, by layout', () => {
    const ctx = buildContext({ inventory, report: report(['m3']), inputs: { member: 'm3' }, run });
    const raw = (t: string) => renderTemplate(t, ctx, { shell: true });
    // kubeadm: the control plane is three static pods, parked beside the manifests dir (where replace-member looks for them)
    expect(raw('{{ target.controlPlane.stop | raw }}')).toBe(
      'm=/etc/kubernetes/manifests; p=/etc/kubernetes\nfor c in kube-apiserver kube-controller-manager kube-scheduler; do\n  if [ -f "$m/$c.yaml" ]; then mv -- "$m/$c.yaml" "$p/$c.yaml.stopped" || exit 1; fi\ndone',
    );
    expect(raw('{{ target.controlPlane.start | raw }}')).toContain('if [ -f "$p/$c.yaml.stopped" ] && [ ! -f "$m/$c.yaml" ]; then mv -- "$p/$c.yaml.stopped" "$m/$c.yaml"');
    expect(raw('{{ target.controlPlane.isActive | raw }}')).toBe('test -f /etc/kubernetes/manifests/kube-apiserver.yaml');
    expect(raw('{{ target.kubelet.stop | raw }}; {{ target.kubelet.isActive | raw }}')).toBe('systemctl stop kubelet; systemctl is-active --quiet kubelet');
    // systemd: services
    expect(raw('{{ local.controlPlane.stop | raw }}')).toBe('systemctl stop kube-apiserver kube-controller-manager kube-scheduler');
    expect(raw('{{ local.controlPlane.isActive | raw }}')).toBe('systemctl is-active --quiet kube-apiserver');
    // the shell cannot be tricked by a manifests dir with a quote in it
    const odd: Inventory = { members: [{ ...inventory.members[0]!, node: { host: 'local', layout: 'kubeadm', paths: { manifestsDir: "/etc/k8s'x/manifests" } } }] };
    expect(renderTemplate('{{ local.controlPlane.stop | raw }}', buildContext({ inventory: odd, inputs: {}, run }), { shell: true })).toMatch(/^m='\/etc\/k8s'\\''x\/manifests'; p='\/etc\/k8s'\\''x'\n/);
  });

  it('lets the inventory override the kubelet and control-plane commands, and says what to set without a layout', () => {
    const own: Inventory = {
      members: [{ ...inventory.members[0]!, node: { host: 'local', layout: 'systemd', kubelet: { stop: 'rc-service kubelet stop' }, controlPlane: { start: 'svc up apiserver' } } }],
    };
    const ctx = buildContext({ inventory: own, inputs: {}, run });
    expect(renderTemplate('{{ local.kubelet.stop | raw }}; {{ local.controlPlane.start | raw }}', ctx, { shell: true })).toBe('rc-service kubelet stop; svc up apiserver');
    const bare: Inventory = { members: [{ ...inventory.members[0]!, node: { host: 'local' } }] };
    expect(() => renderTemplate('{{ local.controlPlane.stop | raw }}', buildContext({ inventory: bare, inputs: {}, run }), { shell: true })).toThrow(
      /m1 has no layout: set members\[0\]\.node\.layout \(kubeadm or systemd\) or the commands in members\[0\]\.node\.controlPlane/,
    );
  });

  it('lets the inventory override the service commands', () => {
    const own: Inventory = { members: [{ ...inventory.members[0]!, node: { host: 'local', layout: 'systemd', service: { stop: 'systemctl stop etcd3' } } }] };
    const ctx = buildContext({ inventory: own, inputs: {}, run });
    expect(renderTemplate('{{ local.service.stop | raw }}; {{ local.service.start | raw }}', ctx, { shell: true })).toBe('systemctl stop etcd3; systemctl start etcd');
  });
});

describe('resolveInputs', () => {
  it('takes the default from detection', () => {
    expect(resolveInputs(tiny(), sources())).toEqual({ member: 'm3' });
  });

  it('prefers the operator\'s value', () => {
    expect(resolveInputs(tiny(), sources({ inputs: { member: 'm2' } }))).toEqual({ member: 'm2' });
  });

  it('refuses a member input that names no inventory member, listing the members', () => {
    expect(() => resolveInputs(tiny(), sources({ inputs: { member: 'm9' } }))).toThrow('input "member": the value given "m9" is not a member in the inventory (members: m1, m2, m3)');
  });

  it('says how to pass a required input when its default gives nothing', () => {
    expect(() => resolveInputs(tiny(), sources({ report: report([]) }))).toThrow(
      'input "member" is required: pass --set member=<name> (the member to replace); its default {{ detection.unhealthyMembers.0 }} gives nothing here: {{ detection.unhealthyMembers.0 }}: detection.unhealthyMembers has no entry 0 (it has 0: it is empty)',
    );
  });

  it('refuses an input the runbook does not take', () => {
    expect(() => resolveInputs(tiny(), sources({ inputs: { membr: 'm3' } }))).toThrow('--set membr: runbook tiny has no input "membr" (it takes member)');
  });

  it('coerces numbers and refuses what is not one', async () => {
    const backup = await findRunbook('backup');
    expect(resolveInputs(backup, sources())).toEqual({ backupDir: '/srv/etcd-backups', keep: 5 });
    expect(resolveInputs(backup, sources({ inputs: { keep: '2', backupDir: '/b' } }))).toEqual({ backupDir: '/b', keep: 2 });
    expect(() => resolveInputs(backup, sources({ inputs: { keep: 'five' } }))).toThrow('input "keep": the value given "five" is not a number');
  });

  it('renders a default from the inputs declared above it, the operator\'s value or their defaults', async () => {
    const master = await findRunbook('replace-master');
    expect(resolveInputs(master, sources())).toEqual({ member: 'm3', alsoRemove: '', backupDir: '/srv/etcd-backups', hostBackup: '/srv/etcd-backups/hosts/m3' });
    expect(resolveInputs(master, sources({ inputs: { member: 'm2', backupDir: '/b' } }))).toMatchObject({ hostBackup: '/b/hosts/m2' });
    expect(resolveInputs(master, sources({ inputs: { hostBackup: '/old-host' } }))).toMatchObject({ member: 'm3', hostBackup: '/old-host' });
  });
});

describe('renderRunbook', () => {
  it('expands targets, filters by layout, renders commands quoted and guards per step', () => {
    const plan = renderRunbook(tiny(), sources());
    expect(plan.inputs).toEqual({ member: 'm3' });
    const [list, stop, look, tell] = plan.steps;
    expect(list).toMatchObject({ id: 'list', timeoutMs: 120_000, targets: [{ node: 'local', host: 'local', etcd: { action: 'member-list', params: {} } }] });
    expect(stop).toMatchObject({
      title: 'Stop etcd on m3',
      timeoutMs: 60_000,
      targets: [{ node: 'm3', host: 'admin@10.0.0.3:2222', command: 'mv -- /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/etcd.yaml.stopped && echo stopped m3' }],
      guards: [{ check: 'would-lose-quorum', params: { member: 'm3', change: 'stop' }, overridable: false }],
    });
    expect(stop?.guards[0]?.description).toMatch(/^removing\/stopping \(or adding\) the member keeps/);
    // each-surviving-member: all but m3; layouts [systemd] keeps both
    expect(look?.targets).toEqual([
      { node: 'm1', host: 'local', command: 'ls -l /var/lib/etcd' },
      { node: 'm2', host: 'root@10.0.0.2', command: 'ls -l /var/lib/etcd' },
    ]);
    expect(tell?.targets).toEqual([{ node: 'local', host: 'local', instruction: 'Point DNS for m3 at https://10.0.0.3:2380' }]);
  });

  it('marks the steps that leave the cluster as they found it: read-only, copies, waits, etcd reads, filesOnly commands', () => {
    const plan = renderRunbook(tiny(), sources());
    // list (etcd read, read-only) and look (read-only) do; stop (a command that changes) and tell (manual) may change anything
    expect(plan.steps.map((s) => [s.id, s.leavesClusterAsIs ?? false])).toEqual([
      ['list', true],
      ['stop', false],
      ['look', true],
      ['tell', false],
    ]);
  });

  it('gives a step with no node of its layout no targets (not applicable)', () => {
    const plan = renderRunbook(tiny(), sources({ report: report(['m1']), inputs: { member: 'm1' } }));
    // survivors m2 (systemd) and m3 (kubeadm): only m2 runs the systemd step
    expect(plan.steps[2]?.targets.map((t) => t.node)).toEqual(['m2']);
    const kubeadmOnly = { ...tiny(), steps: [{ ...tiny().steps[2]!, target: 'local' as const, run: 'true', layouts: ['kubeadm' as const] }] };
    expect(renderRunbook(kubeadmOnly, sources()).steps[0]?.targets).toEqual([]);
  });

  it('keeps a layout-limited local step when the tool runs on no member, by the layout every member shares', () => {
    const step = (layouts: Array<'kubeadm' | 'systemd'>) => ({ ...tiny(), steps: [{ ...tiny().steps[2]!, target: 'local' as const, run: 'true', layouts }] });
    const remote = (layout: 'kubeadm' | 'systemd'): Inventory => ({
      members: inventory.members.map((m, i) => ({ ...m, node: { host: `10.0.0.${i + 1}`, ssh: { user: 'root' }, layout } })),
    });
    const targets = (layouts: Array<'kubeadm' | 'systemd'>, inv: Inventory) => renderRunbook(step(layouts), { inventory: inv, report: undefined, inputs: { member: 'm1' }, run }).steps[0]?.targets.map((t) => t.node);
    // an operator's machine reaching three systemd masters over SSH: the systemd check runs here, the kubeadm one does not
    expect(targets(['systemd'], remote('systemd'))).toEqual(['local']);
    expect(targets(['kubeadm'], remote('systemd'))).toEqual([]);
    expect(targets(['kubeadm'], remote('kubeadm'))).toEqual(['local']);
    // members that disagree, none of them here: no layout to judge by, so the step is left out as before
    expect(targets(['systemd'], { members: [remote('systemd').members[0]!, remote('kubeadm').members[1]!] })).toEqual([]);
  });

  it('renders a guard that names member once per node on a fan-out step', () => {
    const text = readFileSync('test/fixtures/runbooks/lint/valid.yaml', 'utf8').replace(
      '    layouts: [systemd]',
      '    layouts: [systemd]\n    guards:\n      - check: data-dir-empty\n        with:\n          node: "{{ member.name }}"',
    );
    const plan = renderRunbook(parseRunbook(text, 'v.yaml'), sources());
    expect(plan.steps[2]?.guards.map((g) => [g.params.node, g.description])).toEqual([
      ['m1', 'the data dir is empty or missing (m1)'],
      ['m2', 'the data dir is empty or missing (m2)'],
    ]);
  });

  it('quotes a hostile member name in every command', () => {
    const hostile: Inventory = { members: [{ ...inventory.members[1]!, name: 'a;rm -rf /' }, inventory.members[0]!] };
    const plan = renderRunbook(tiny(), { inventory: hostile, report: undefined, inputs: { member: 'a;rm -rf /' }, run });
    expect(plan.steps[1]?.targets[0]?.command).toBe("systemctl stop etcd && echo stopped 'a;rm -rf /'");
  });
});

describe('plan output', () => {
  it('--json is the rendered runbook, plain data', async () => {
    const backup = await findRunbook('backup');
    // backup pulls every master's host files: the systemd members need their etcd files' paths
    const etcdFiles = { pkiDir: '/etc/etcd/ssl', envFile: '/etc/etcd/etcd.conf', unitFile: '/etc/systemd/system/etcd.service' };
    const described: Inventory = { ...inventory, members: inventory.members.map((m) => (m.node?.layout === 'systemd' ? { ...m, node: { ...m.node, paths: { ...m.node.paths, ...etcdFiles } } } : m)) };
    const plan = renderRunbook(backup, sources({ inventory: described, inputs: { backupDir: '/srv/my backups' } }));
    const json = JSON.parse(JSON.stringify(plan)) as typeof plan;
    expect(json).toEqual(plan);
    const systemd = (m: string): Array<[string, string, number]> => ['make-dirs-kubeadm', 'make-dirs-systemd', 'kubernetes-dir', 'kubeconfig', 'kubelet-config', 'kubelet-flags', 'kubelet-pki', 'find-kubelet-drop-in', 'kubelet-drop-in', 'kubelet-drop-in-etc', 'etcd-pki', 'etcd-env-file', 'etcd-unit'].map((id) => [`host-files-${m}-${id}`, id === 'find-kubelet-drop-in' ? 'read-only' : 'changes', ['make-dirs-systemd', 'etcd-pki', 'etcd-env-file', 'etcd-unit'].includes(id) ? 1 : 0] as [string, string, number]);
    const kubeadm = (m: string): Array<[string, string, number]> => systemd(m).map(([id, risk, n]) => [id, risk, n === 1 ? 0 : 1]);
    // a pass keeps only the steps its member's layout has (none with no target)
    const kept = (steps: Array<Array<string | number>>) => steps.filter(([, , n]) => n === 1);
    expect(json.steps.map((s) => [s.id, s.risk, s.targets.length])).toEqual([
      ['prepare-backup-dir', 'changes', 1],
      ['snapshot-save', 'changes', 1],
      ['checksum', 'changes', 1],
      ...kept(systemd('m1')),
      ...kept(systemd('m2')),
      ...kept(kubeadm('m3')),
      ['link-host-files', 'changes', 1],
      ['prune', 'destructive', 1],
    ]);
    // pulled from the member, to its absolute path under this run's hosts dir (replace-master's hostBackup layout)
    expect(json.steps.find((s) => s.id === 'host-files-m2-etcd-pki')?.targets).toEqual([
      { node: 'local', host: 'local', copy: { fromNode: 'm2', fromPath: '/etc/etcd/ssl', toPath: '/srv/my backups/hosts-20261124T183000Z/m2/etc/etcd/ssl', recursive: true, optional: false } },
    ]);
    expect(json.steps.find((s) => s.id === 'host-files-m3-kubeconfig')?.targets[0]?.copy).toEqual({
      fromNode: 'm3', fromPath: '/root/.kube/config', toPath: '/srv/my backups/hosts-20261124T183000Z/m3/root/.kube/config', recursive: false, optional: true,
    });
    // the drop-in is looked for where current and older kubeadm packages put it; /var/lib/kubelet's configuration only, never pods/
    expect(['kubelet-drop-in', 'kubelet-drop-in-etc', 'kubelet-config', 'kubelet-flags', 'kubelet-pki'].map((id) => json.steps.find((s) => s.id === `host-files-m3-${id}`)?.targets[0]?.copy?.fromPath)).toEqual([
      '/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf', '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf',
      '/var/lib/kubelet/config.yaml', '/var/lib/kubelet/kubeadm-flags.env', '/var/lib/kubelet/pki',
    ]);
    // without the paths, it says which inventory field to set
    expect(() => renderRunbook(backup, sources())).toThrow(/m1 has no pkiDir: set members\[0\]\.node\.paths\.pkiDir in the inventory/);
    expect(json.steps[0]?.targets[0]?.command).toBe("mkdir -p -m 0700 -- '/srv/my backups' && ls -ld -- '/srv/my backups'");
    expect(json.steps[1]?.targets[0]?.etcd).toEqual({ action: 'snapshot-save', params: { path: '/srv/my backups/snapshot-20261124T183000Z.db' } });
    expect(json.steps[1]?.check).toMatchObject({ check: 'snapshot-verified', params: { node: 'local', path: '/srv/my backups/snapshot-20261124T183000Z.db' } });
  });

  it('text shows step k of n, risk, host and the exact command', () => {
    const text = planText(renderRunbook(tiny(), sources()), { report: report(['m3']) });
    expect(text).toContain('Runbook tiny: Tiny\n');
    expect(text).toContain('Cluster: minority-lost — m3 down, quorum held\nInputs: member=m3\n');
    expect(text).toContain(
      'Step 2 of 4  Stop etcd on m3  [changes]\n  why: a stopped member cannot vote\n  on m3 (admin@10.0.0.3:2222):\n    $ mv -- /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/etcd.yaml.stopped && echo stopped m3\n  guards (must pass before it runs):\n    - would-lose-quorum (member=m3 change=stop): removing/stopping',
    );
    expect(text).toContain('  on local, by hand (confirm when done):\n    Point DNS for m3 at https://10.0.0.3:2380');
  });

  it('markdown is a change-ticket document with fenced commands', () => {
    const md = planMarkdown(renderRunbook(tiny(), sources()), { report: report(['m3']), generatedAt: '2026-11-24T18:30:00.000Z' });
    expect(md.startsWith('# Plan: Tiny (`tiny`)\n\nA small runbook the lint and render tests use.\n\n- Generated: 2026-11-24T18:30:00.000Z by `etcd-runbook plan` (nothing was executed)\n- Detected: **minority-lost** — m3 down, quorum held\n')).toBe(true);
    expect(md).toContain('## 2. Stop etcd on m3 — changes\n\n- [ ] done\n- Why: a stopped member cannot vote\n- Kind: command, timeout 60s\n- Guard: `would-lose-quorum` (`member=m3 change=stop`) — removing/stopping');
    expect(md).toContain('**m3** (admin@10.0.0.3:2222):\n\n```sh\nmv -- /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/etcd.yaml.stopped && echo stopped m3\n```\n');
    expect(md).toContain('**local** (local), by hand (confirm when done): Point DNS for m3 at https://10.0.0.3:2380');
  });
});

describe('replace-member with several members down', () => {
  // the inventory above, with what replace-member's commands need (env file, client certificate)
  const full: Inventory = {
    ...inventory,
    tls: { cacert: '/etc/etcd/ca.pem', cert: '/etc/etcd/client.pem', key: '/etc/etcd/client-key.pem' },
    members: inventory.members.map((m) => (m.node ? { ...m, node: { ...m.node, paths: { ...m.node.paths, envFile: '/etc/etcd/etcd.env' } } } : m)),
  };
  const sources = (over: Partial<RenderSources> = {}): RenderSources => ({ inventory: full, report: report(['m3']), inputs: {}, run, ...over });
  it('removes no other member by default, though another voter is down (it may only be rebooting): the remove step\'s guard names it', async () => {
    const rendered = renderRunbook(await findRunbook('replace-member'), sources({ report: report(['m2', 'm3']) }));
    expect(rendered.inputs).toMatchObject({ member: 'm2', alsoRemove: '' });
    const remove = rendered.steps.find((s) => s.id === 'remove-member');
    expect(remove?.targets[0]?.etcd?.params).toEqual({ member: 'm2', also: '' });
    expect(remove?.guards.find((g) => g.check === 'other-voters-healthy')?.params).toEqual({ member: 'm2', also: '' });
    expect(resolveInputs(await findRunbook('replace-master'), sources({ report: report(['m2', 'm3']) }))).toMatchObject({ member: 'm2', alsoRemove: '' });
  });

  it('removes the other voting members that are down in the same step when told to, names them all, and joins the list without them', async () => {
    const runbook = await findRunbook('replace-member');
    const rendered = renderRunbook(runbook, sources({ report: report(['m2', 'm3']), inputs: { alsoRemove: 'm3' } }));
    expect(rendered.inputs).toMatchObject({ member: 'm2', alsoRemove: 'm3' });
    const remove = rendered.steps.find((s) => s.id === 'remove-member');
    expect(remove?.title).toBe('Remove m2,m3 from the member list (by ID, resolved from the live list)');
    expect(remove?.targets[0]?.etcd?.params).toEqual({ member: 'm2', also: 'm3' });
    expect(remove?.guards.find((g) => g.check === 'would-lose-quorum')?.params).toEqual({ member: 'm2', also: 'm3', change: 'remove' });
    expect(remove?.check?.params).toEqual({ member: 'm2', also: 'm3' });
    // m2 joins a member list without m3 (etcd refuses a joiner whose initial-cluster differs from the list)
    expect(initialClusterWritten(rendered)).toBe('m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380');
    expect(rendered.steps.find((s) => s.id === 'wait-healthy')?.targets[0]?.wait?.params).toEqual({ member: 'm2', removed: 'm3' });
  });

  it('leaves the probe standing across its file-only steps: never across a membership change or a service started or stopped', async () => {
    const rendered = renderRunbook(await findRunbook('replace-member'), sources());
    expect(rendered.steps.filter((s) => s.leavesClusterAsIs).map((s) => s.id)).toEqual([
      'prepare-backup-dir',
      'snapshot',
      'wait-stopped',
      'move-data-dir-aside',
      'write-config',
      'wait-in-sync',
      'wait-healthy',
    ]);
  });

  it('--set alsoRemove= removes none (the guard then refuses while another voter is down); an unknown name is refused', async () => {
    const runbook = await findRunbook('replace-member');
    const none = renderRunbook(runbook, sources({ report: report(['m2', 'm3']), inputs: { alsoRemove: '' } }));
    expect(none.inputs.alsoRemove).toBe('');
    expect(none.steps.find((s) => s.id === 'remove-member')?.title).toBe('Remove m2 from the member list (by ID, resolved from the live list)');
    expect(initialClusterWritten(none)).toBe('m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380');
    expect(() => renderRunbook(runbook, sources({ report: report(['m2', 'm3']), inputs: { alsoRemove: 'm3,m9' } }))).toThrow(
      'input "alsoRemove": the value given "m3,m9" names m9, not a member in the inventory (members: m1, m2, m3)',
    );
    // one member down: nothing else to remove
    expect(renderRunbook(runbook, sources()).inputs).toMatchObject({ member: 'm3', alsoRemove: '' });
    // a healthy member is never replaced together with the dead ones (the cluster would shrink to its healthy rest)
    expect(renderRunbook(runbook, sources({ inputs: { member: 'm1' } })).inputs).toMatchObject({ member: 'm1', alsoRemove: '' });
  });

  it('a member an earlier run removed joins the live list as it is, plus itself', async () => {
    const runbook = await findRunbook('replace-member');
    const live = report([]);
    // m3 is gone from the live member list
    const list = [
      { id: '8e9e05c52164694d', name: 'm1', peerURLs: ['https://10.0.0.1:2380'], clientURLs: ['https://10.0.0.1:2379'], isLearner: false },
      { id: '91bc3c398fb3c146', name: 'm2', peerURLs: ['https://10.0.0.2:2380'], clientURLs: ['https://10.0.0.2:2379'], isLearner: false },
    ];
    live.endpoints = live.endpoints.map((e) => ({ ...e, members: list }));
    live.verdict.members = live.verdict.members.filter((m) => m.name !== 'm3');
    const rendered = renderRunbook(runbook, sources({ report: live, inputs: { member: 'm3' } }));
    expect(rendered.inputs).toMatchObject({ member: 'm3', alsoRemove: '' });
    expect(initialClusterWritten(rendered)).toBe('m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380');
    // the live list, not the inventory: with m2 gone too, m3 joins m1 alone
    live.endpoints = live.endpoints.map((e) => ({ ...e, members: list.slice(0, 1) }));
    const alone = renderRunbook(runbook, sources({ report: live, inputs: { member: 'm3' } }));
    expect(initialClusterWritten(alone)).toBe('m1=https://10.0.0.1:2380,m3=https://10.0.0.3:2380');
  });
});

/** The --initial-cluster the write-config step sets (edit-config). */
function initialClusterWritten(rendered: { steps: Array<{ id: string; targets: Array<{ editConfig?: { flags: Array<[string, string]> } }> }> }): string | undefined {
  return rendered.steps.find((s) => s.id === 'write-config')?.targets[0]?.editConfig?.flags.find(([flag]) => flag === 'initial-cluster')?.[1];
}
