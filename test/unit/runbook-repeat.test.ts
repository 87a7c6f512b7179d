import { describe, expect, it } from 'vitest';
import { planText } from '../../src/cli/plan.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { formatProblem, lintRunbook, parseRunbook } from '../../src/runbook/loader.js';
import { renderRunbook, type RenderSources } from '../../src/runbook/render.js';

/**
 * `repeat`: a sequence of steps run once per member, one member after the
 * other, expanded at render time into plain steps (the engine never sees
 * it). Lint checks the nested steps exactly as top-level ones.
 */
const member = (name: string, ip: string, layout: 'systemd' | 'kubeadm' = 'systemd') => ({
  name,
  peerURLs: [`https://${ip}:2380`],
  clientURLs: [`https://${ip}:2379`],
  node: { host: ip, layout, paths: { dataDir: '/var/lib/etcd', envFile: '/etc/etcd/etcd.conf', manifestsDir: '/etc/kubernetes/manifests' } },
});

const inventory: Inventory = {
  cluster: { name: 'prod' },
  tls: { cacert: '/ca.pem', cert: '/c.pem', key: '/k.pem' },
  members: [member('m1', '10.0.0.1'), member('m2', '10.0.0.2'), member('m3', '10.0.0.3', 'kubeadm')],
};
const run = { id: 'r', timestamp: '20261124T183000Z' };
const sources = (over: Partial<RenderSources> = {}): RenderSources => ({ inventory, inputs: { survivor: 'm2' }, run, ...over });

const GROW = `id: grow
title: Grow back
description: one member at a time
appliesTo: [quorum-lost]
inputs:
  - name: survivor
    description: the member whose data is kept
    type: member
steps:
  - id: restore
    title: Restore {{ survivor.name }} alone
    why: the survivor first
    target: survivor
    kind: command
    risk: destructive
    run: "echo {{ member.name }}"
  - id: grow
    repeat:
      for: each-other-member
      as: joiner
    steps:
      - id: add-learner
        title: Add {{ joiner.name }} as a learner
        why: one at a time
        target: local
        kind: etcd
        action: member-add
        risk: changes
        with:
          name: "{{ joiner.name }}"
          peerURL: "{{ joiner.peerURL }}"
          learner: true
        guards:
          - check: data-dir-empty
            with:
              node: "{{ joiner.name }}"
              path: "{{ joiner.dataDir }}"
      - id: write-config
        title: Configure {{ joiner.name }}
        why: it joins the members already there
        target: joiner
        kind: command
        risk: changes
        layouts: [systemd]
        run: "set_var ETCD_INITIAL_CLUSTER {{ joiner.initialCluster }} # on {{ member.name }}"
      - id: start
        title: Start {{ joiner.name }}
        why: it joins
        target: joiner
        kind: command
        risk: changes
        run: "{{ member.service.start | raw }}"
  - id: done
    title: Every member
    why: the end
    target: each-member
    kind: command
    risk: read-only
    run: "echo {{ member.name }}"
`;

const lint = (text: string) => lintRunbook(text, 'grow.yaml').map(formatProblem);

describe('repeat: rendering', () => {
  it('expands pass after pass in inventory order, with ids <repeat>-<member>-<step>, between the plain steps', () => {
    const rendered = renderRunbook(parseRunbook(GROW, 'grow.yaml'), sources());
    expect(rendered.steps.map((s) => s.id)).toEqual([
      'restore',
      'grow-m1-add-learner',
      'grow-m1-write-config',
      'grow-m1-start',
      'grow-m3-add-learner',
      // m3 is kubeadm: the systemd-only step for it is dropped at expansion
      'grow-m3-start',
      'done',
    ]);
    expect(rendered.steps.map((s) => s.title)).toContain('Add m3 as a learner');
  });

  it('gives each pass the member list it joins: the survivor, the members already back, itself', () => {
    const steps = renderRunbook(parseRunbook(GROW, 'grow.yaml'), sources()).steps;
    const command = (id: string) => steps.find((s) => s.id === id)?.targets.map((t) => `${t.node}: ${t.command ?? ''}`);
    expect(command('grow-m1-write-config')).toEqual(['m1: set_var ETCD_INITIAL_CLUSTER m2=https://10.0.0.2:2380,m1=https://10.0.0.1:2380 # on m1']);
    // m3 is kubeadm: the systemd-only step is not in its pass at all, the start step runs on m3 itself
    expect(steps.find((s) => s.id === 'grow-m3-write-config')).toBeUndefined();
    expect(steps.find((s) => s.id === 'grow-m3-start')?.targets.map((t) => t.node)).toEqual(['m3']);
    const add = steps.find((s) => s.id === 'grow-m3-add-learner');
    expect(add?.targets).toEqual([{ node: 'local', host: 'local', etcd: { action: 'member-add', params: { name: 'm3', peerURL: 'https://10.0.0.3:2380', learner: true } } }]);
    expect(add?.guards[0]?.params).toEqual({ node: 'm3', path: '/var/lib/etcd' });
  });

  it('grows from every member outside the walk when the survivor is in the middle', () => {
    const steps = renderRunbook(parseRunbook(GROW.replace('set_var ETCD_INITIAL_CLUSTER', 'echo'), 'grow.yaml'), sources({ inputs: { survivor: 'm1' } })).steps;
    expect(steps.filter((s) => s.id.endsWith('-start')).map((s) => s.id)).toEqual(['grow-m2-start', 'grow-m3-start']);
    expect(steps.find((s) => s.id === 'grow-m2-write-config')?.targets[0]?.command).toBe('echo m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380 # on m2');
  });

  it('turns member names into id words, and numbers the passes whose words collide', () => {
    const odd: Inventory = { ...inventory, members: [member('Etcd_A', '10.0.0.1'), member('etcd-a', '10.0.0.2'), member('a;rm -rf /', '10.0.0.3'), member('s', '10.0.0.4')] };
    const steps = renderRunbook(parseRunbook(GROW, 'grow.yaml'), sources({ inventory: odd, inputs: { survivor: 's' } })).steps;
    expect(steps.filter((s) => s.id.endsWith('-start')).map((s) => s.id)).toEqual(['grow-etcd-a-1-start', 'grow-etcd-a-2-start', 'grow-a-rm-rf-start']);
    // and the hostile name reaches the shell as one quoted word
    expect(steps.find((s) => s.id === 'grow-a-rm-rf-write-config')?.targets[0]?.command).toContain("# on 'a;rm -rf /'");
  });

  it('expands to nothing when the survivor is the only member', () => {
    const alone: Inventory = { ...inventory, members: [member('m2', '10.0.0.2')] };
    expect(renderRunbook(parseRunbook(GROW, 'grow.yaml'), sources({ inventory: alone })).steps.map((s) => s.id)).toEqual(['restore', 'done']);
  });

  it('refuses an expanded id that collides with another step', () => {
    const clash = GROW.replace('  - id: done\n', '  - id: x-grow-m1-start\n').replace('- id: grow\n    repeat', '- id: grow\n    repeat');
    // a plain id under the repeat's prefix is a lint error already
    expect(lint(GROW.replace('  - id: done\n', '  - id: grow-m1-start\n'))).toEqual([
      'grow.yaml:53: steps[2].id: "grow-m1-start" starts with "grow-", the prefix of repeat grow\'s expanded steps: rename one of them',
    ]);
    expect(lint(clash)).toEqual([]);
  });

  it('plan shows the expanded steps as step k of n', () => {
    const text = planText(renderRunbook(parseRunbook(GROW, 'grow.yaml'), sources()));
    expect(text).toContain('Add m1 as a learner');
    expect(text).toContain('Add m3 as a learner');
    expect(text).toMatch(/7\b/);
  });
});

describe('repeat: lint', () => {
  it('passes the valid repeat', () => {
    expect(lint(GROW)).toEqual([]);
  });

  it('checks nested steps exactly like top-level ones, at file:line:field', () => {
    const bad = GROW.replace('name: "{{ joiner.name }}"', 'name: "{{ joiner.nmae }}"')
      .replace('"set_var ETCD_INITIAL_CLUSTER {{ joiner.initialCluster }} # on {{ member.name }}"', '"set_var {{ joiner.initialCluster | raw }} {{ survivor.name }} {{ other.name }}"')
      .replace('check: data-dir-empty', 'check: data-dir-emtpy');
    expect(lint(bad)).toEqual([
      expect.stringMatching(/^grow\.yaml:30: steps\[1\]\.steps\[0\]\.with\.name: unknown variable \{\{ joiner\.nmae \}\}: joiner has name, id, peerURL, .*, initialCluster$/),
      expect.stringMatching(/^grow\.yaml:34: steps\[1\]\.steps\[0\]\.guards\[0\]\.check: unknown guard "data-dir-emtpy"/),
      'grow.yaml:45: steps[1].steps[1].run: {{ joiner.initialCluster | raw }}: "raw" is only for command fragments (the member\'s service, kubelet and controlPlane start, stop, isActive); every other value is quoted',
      'grow.yaml:45: steps[1].steps[1].run: unknown variable {{ other.name }}: the template context has inventory, cluster, detection, inputs, tls, run, tools, local, joiner, survivor, member',
    ]);
    // a schema mistake in a nested step is reported at its own field
    expect(lint(GROW.replace('        kind: etcd\n', '        kind: etcd\n        bogus: 1\n'))).toEqual(['grow.yaml:27: steps[1].steps[0].bogus: unknown field: check the spelling']);
  });

  it('reports an unknown kind, a bad target and a bad header inside a repeat', () => {
    const bad = GROW.replace('kind: etcd', 'kind: etcdd').replace('        target: joiner\n        kind: command\n        risk: changes\n        layouts', '        target: joinr\n        kind: command\n        risk: changes\n        layouts').replace('for: each-other-member', 'for: each-survivor').replace('as: joiner', 'as: member');
    expect(lint(bad)).toEqual([
      'grow.yaml:19: steps[1].repeat.for: must be "each-member" or "each-other-member", got "each-survivor"',
      'grow.yaml:20: steps[1].repeat.as: is already a template root (inventory, cluster, detection, inputs, tls, run, tools, local, member, target, survivor): pick another name, e.g. joiner',
      'grow.yaml:26: steps[1].steps[0].kind: unknown step kind "etcdd": must be one of command, etcd, copy, wait, manual, snapshot-restore, move-aside, edit-config, renew-certificates',
    ]);
    // the nested target is checked against the variable once the header is valid
    expect(lint(GROW.replace('        target: joiner\n        kind: command\n        risk: changes\n        layouts', '        target: joinr\n        kind: command\n        risk: changes\n        layouts'))).toEqual([
      'grow.yaml:41: steps[1].steps[1].target: must be one of local, each-member, each-surviving-member, member, survivor, each-other-member or joiner (this repeat\'s member), got "joinr"',
    ]);
  });

  it('does not know the variable outside its repeat, and needs inputs.survivor for each-other-member', () => {
    const outside = GROW.replace('run: "echo {{ member.name }}"\n  - id: grow', 'run: "echo {{ joiner.name }}"\n  - id: grow');
    expect(lint(outside)).toEqual([expect.stringMatching(/^grow\.yaml:16: steps\[0\]\.run: unknown variable \{\{ joiner\.name \}\}: the template context has /)]);
    const noSurvivor = GROW.replace('  - name: survivor\n    description: the member whose data is kept\n    type: member\n', '  - name: keep\n    description: x\n').replace(/survivor\.name/g, 'inputs.keep').replace('target: survivor', 'target: local').replace('run: "echo {{ member.name }}"\n  - id: grow', 'run: "echo {{ inputs.keep }}"\n  - id: grow');
    expect(lint(noSurvivor)).toEqual([
      'grow.yaml:18: steps[1].repeat.for: each-other-member needs the runbook to declare an input named "survivor" (the member the others are counted from)',
    ]);
  });
});

/** A fan-in: every member's files pulled to this machine, one member per pass. */
const PULL = `id: pull
title: Pull
description: every member's files here
appliesTo: [healthy]
inputs:
  - name: dir
    description: where they go
    type: path
    default: /backups
steps:
  - id: files
    repeat:
      for: each-member
      as: master
    steps:
      - id: env-file
        title: Copy {{ master.name }}'s env file here
        why: it names the member
        target: local
        kind: copy
        risk: changes
        layouts: [systemd]
        from:
          node: "{{ master.name }}"
          path: "{{ master.envFile }}"
        to:
          path: "{{ inputs.dir }}/{{ master.name }}{{ master.envFile }}"
      - id: kubernetes-dir
        title: Copy {{ master.name }}'s kubernetes dir here
        why: its manifests
        target: local
        kind: copy
        risk: changes
        layouts: [kubeadm]
        recursive: true
        from:
          node: "{{ master.name }}"
          path: "{{ master.kubernetesDir }}"
        to:
          path: "{{ inputs.dir }}/{{ master.name }}{{ master.kubernetesDir }}"
`;

describe('repeat for each-member', () => {
  it('walks every member; a local step in a pass is kept or dropped by the pass member\'s layout', () => {
    expect(lint(PULL)).toEqual([]);
    const steps = renderRunbook(parseRunbook(PULL, 'pull.yaml'), sources({ inputs: {} })).steps;
    // m1 and m2 are systemd, m3 kubeadm: each pass keeps only the copy its layout has (no survivor input needed)
    expect(steps.map((s) => [s.id, s.targets.map((t) => `${t.copy?.fromNode}:${t.copy?.fromPath} -> ${t.node}:${t.copy?.toPath}`)])).toEqual([
      ['files-m1-env-file', ['m1:/etc/etcd/etcd.conf -> local:/backups/m1/etc/etcd/etcd.conf']],
      ['files-m2-env-file', ['m2:/etc/etcd/etcd.conf -> local:/backups/m2/etc/etcd/etcd.conf']],
      ['files-m3-kubernetes-dir', ['m3:/etc/kubernetes -> local:/backups/m3/etc/kubernetes']],
    ]);
    expect(steps.find((s) => s.id === 'files-m3-kubernetes-dir')?.targets[0]?.copy?.recursive).toBe(true);
    expect(steps.find((s) => s.id === 'files-m3-env-file')).toBeUndefined();
  });

  it('keeps a layout-limited step when the pass member\'s layout is unknown (settled at run time), and one that acts for others', () => {
    const noLayout = { ...member('m4', '10.0.0.4'), node: { host: '10.0.0.4', paths: { dataDir: '/var/lib/etcd', envFile: '/etc/etcd/etcd.conf' } } };
    const steps = renderRunbook(parseRunbook(PULL, 'pull.yaml'), sources({ inputs: {}, inventory: { ...inventory, members: [noLayout] as Inventory['members'] } })).steps;
    expect(steps.map((s) => [s.id, s.targets.length])).toEqual([['files-m4-env-file', 0], ['files-m4-kubernetes-dir', 0]]);
    // a nested step on every member acts for each of them, not for the pass member: it stays, filtered per node
    const everyone = PULL.replace('        target: local\n        kind: copy\n        risk: changes\n        layouts: [systemd]', '        target: each-member\n        kind: copy\n        risk: changes\n        layouts: [systemd]');
    expect(lint(everyone)).toEqual([]);
    const fanned = renderRunbook(parseRunbook(everyone, 'pull.yaml'), sources({ inputs: {} })).steps;
    expect(fanned.find((s) => s.id === 'files-m3-env-file')?.targets.map((t) => t.node)).toEqual(['m1', 'm2']);
  });

  it('lint still checks a nested step no pass would keep', () => {
    expect(lint(PULL.replace('path: "{{ master.kubernetesDir }}"', 'path: "{{ master.kubernetesDri }}"'))).toEqual([
      expect.stringMatching(/^grow\.yaml:\d+: steps\[0\]\.steps\[1\]\.from\.path: unknown variable \{\{ master\.kubernetesDri \}\}/),
    ]);
  });
});
