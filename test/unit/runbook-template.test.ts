import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildContext } from '../../src/runbook/context.js';
import { checkTemplate, CommandFragment, parseTemplate, renderTemplate, TemplateError, Unset, type ShapeScope } from '../../src/runbook/template.js';
import { stepShape } from '../../src/runbook/context.js';
import type { Inventory } from '../../src/inventory/schema.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('parseTemplate', () => {
  it('splits text and values, with the raw filter', () => {
    expect(parseTemplate('ls {{ member.dataDir }}/x && {{member.service.stop|raw}}')).toEqual([
      { kind: 'text', text: 'ls ' },
      { kind: 'value', path: ['member', 'dataDir'], raw: false, source: 'member.dataDir' },
      { kind: 'text', text: '/x && ' },
      { kind: 'value', path: ['member', 'service', 'stop'], raw: true, source: 'member.service.stop|raw' },
    ]);
  });

  it('takes numeric list indexes', () => {
    expect(parseTemplate('{{ detection.unhealthyMembers.0 }}')).toEqual([
      { kind: 'value', path: ['detection', 'unhealthyMembers', '0'], raw: false, source: 'detection.unhealthyMembers.0' },
    ]);
  });

  it('refuses malformed templates with a message that says what to write', () => {
    expect(() => parseTemplate('ls {{ member.dataDir')).toThrow('unclosed "{{" at "{{ member.dataDir": close it with "}}"');
    expect(() => parseTemplate('{{ }}')).toThrow('empty "{{ }}": name a value, e.g. {{ member.name }}');
    expect(() => parseTemplate('{{ member.data-dir }}')).toThrow('"member.data-dir" is not a path');
    expect(() => parseTemplate('{{ member.name | upper }}')).toThrow('unknown filter "upper" (the only filter is "raw")');
    expect(() => parseTemplate('echo }}')).toThrow('"}}" without "{{"');
  });
});

describe('renderTemplate', () => {
  const context = {
    member: {
      name: 'a;rm -rf /',
      dataDir: "/var/lib/etcd's data",
      pkiDir: new Unset('m1 has no pkiDir: set members[0].node.paths.pkiDir in the inventory'),
      service: { stop: new CommandFragment('systemctl stop etcd') },
    },
    detection: { unhealthyMembers: ['m2', 'm 3'], healthyMembers: [] },
    inputs: { keep: 5 },
  };

  it('quotes every value in shell mode and inserts it as-is in plain mode', () => {
    expect(renderTemplate('etcdctl member remove {{ member.name }}', context, { shell: true })).toBe("etcdctl member remove 'a;rm -rf /'");
    expect(renderTemplate('Remove {{ member.name }}', context, { shell: false })).toBe('Remove a;rm -rf /');
    expect(renderTemplate('ls {{ member.dataDir }}', context, { shell: true })).toBe(`ls '/var/lib/etcd'\\''s data'`);
    expect(renderTemplate('keep {{ inputs.keep }}', context, { shell: true })).toBe('keep 5');
  });

  it('renders a list as quoted words in shell mode and comma-joined in plain mode', () => {
    expect(renderTemplate('echo {{ detection.unhealthyMembers }}', context, { shell: true })).toBe("echo m2 'm 3'");
    expect(renderTemplate('{{ detection.unhealthyMembers }}', context, { shell: false })).toBe('m2,m 3');
    expect(renderTemplate('{{ detection.unhealthyMembers.1 }}', context, { shell: false })).toBe('m 3');
  });

  it('inserts a command fragment unquoted only with raw', () => {
    expect(renderTemplate('{{ member.service.stop | raw }} && echo ok', context, { shell: true })).toBe('systemctl stop etcd && echo ok');
    expect(() => renderTemplate('{{ member.service.stop }}', context, { shell: true })).toThrow(
      '{{ member.service.stop }} is a command: write {{ member.service.stop | raw }} to run it',
    );
    expect(renderTemplate('then run {{ member.service.stop }}', context, { shell: false })).toBe('then run systemctl stop etcd');
  });

  it('refuses raw on anything that is not a command fragment', () => {
    expect(() => renderTemplate('rm -rf {{ member.dataDir | raw }}', context, { shell: true })).toThrow(
      '{{ member.dataDir | raw }}: "raw" is only for command fragments (the member\'s service, kubelet and controlPlane start, stop, isActive); every other value is quoted',
    );
    expect(() => renderTemplate('{{ member.name | raw }}', context, { shell: false })).toThrow(TemplateError);
  });

  it('names the unknown variable, never renders a blank', () => {
    expect(() => renderTemplate('ls {{ member.dataDri }}', context, { shell: true })).toThrow(
      'unknown variable {{ member.dataDri }}: member has name, dataDir, pkiDir, service',
    );
    expect(() => renderTemplate('{{ nothing.here }}', context, { shell: false })).toThrow('unknown variable {{ nothing.here }}: the template context has member, detection, inputs');
  });

  it('says which inventory field to set for an unset value', () => {
    expect(() => renderTemplate('--cacert {{ member.pkiDir }}/ca.crt', context, { shell: true })).toThrow(
      '{{ member.pkiDir }}: m1 has no pkiDir: set members[0].node.paths.pkiDir in the inventory',
    );
  });

  it('says a list entry is missing rather than rendering nothing', () => {
    expect(() => renderTemplate('{{ detection.healthyMembers.0 }}', context, { shell: false })).toThrow(
      '{{ detection.healthyMembers.0 }}: detection.healthyMembers has no entry 0 (it has 0: it is empty)',
    );
    expect(() => renderTemplate('{{ member }}', context, { shell: false })).toThrow('{{ member }} is a group of values');
  });

  it('delivers a member named `a;rm -rf /` to /bin/sh as one inert word', () => {
    const dir = mkdtempSync(join(tmpdir(), 'runbook-quote-'));
    dirs.push(dir);
    const victim = join(dir, 'victim');
    execFileSync('/bin/sh', ['-c', `mkdir ${victim}`]);
    const inventory: Inventory = {
      members: [{ name: `a;rm -rf ${victim}`, peerURLs: ['https://10.0.0.1:2380'], clientURLs: ['https://10.0.0.1:2379'], node: { host: 'local', layout: 'systemd' } }],
    };
    const ctx = buildContext({ inventory, inputs: {}, run: { id: 'r', timestamp: '20261124T183000Z' } });
    const command = renderTemplate("printf '<%s>\\n' {{ local.name }} x{{ local.name }}", ctx, { shell: true });
    expect(command).toBe(`printf '<%s>\\n' 'a;rm -rf ${victim}' x'a;rm -rf ${victim}'`);
    const out = execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8' });
    expect(out).toBe(`<a;rm -rf ${victim}>\n<xa;rm -rf ${victim}>\n`);
    expect(existsSync(victim)).toBe(true);
  });
});

describe('checkTemplate (static, no cluster)', () => {
  const runbook = { inputs: [{ name: 'member', description: 'm', type: 'member' as const, required: true }] };
  const onMember: ShapeScope = stepShape(runbook, { target: 'member' });
  const onLocal: ShapeScope = stepShape(runbook, { target: 'local' });

  it('accepts the documented paths', () => {
    expect(checkTemplate('{{ member.service.isActive | raw }} || {{ target.dataDir }} {{ detection.unhealthyMembers.0 }} {{ cluster.initialCluster }} {{ inventory.members.0.node.paths.dataDir }}', onMember, { shell: true })).toEqual([]);
  });

  it('reports each problem in a template', () => {
    expect(checkTemplate('{{ member.nmae }} {{ member.dataDir | raw }} {{ inputs.survivor }}', onMember, { shell: true })).toEqual([
      'unknown variable {{ member.nmae }}: member has name, id, peerURL, clientURL, host, layout, dataDir, walDir, pkiDir, manifestsDir, unitFile, envFile, backupDir, etcdBinary, etcdctl, etcdutl, kubernetesDir, kubeconfig, kubeletDir, kubeletDropIn, kubeletPackageDropIn, service, kubelet, controlPlane',
      '{{ member.dataDir | raw }}: "raw" is only for command fragments (the member\'s service, kubelet and controlPlane start, stop, isActive); every other value is quoted',
      'unknown variable {{ inputs.survivor }}: inputs has member',
    ]);
  });

  it('explains why member is missing on a local step', () => {
    expect(checkTemplate('{{ member.name }}', onLocal, { shell: false })).toEqual([
      '{{ member.name }}: member is only defined on steps that run on members (target each-member, each-surviving-member, each-other-member, member, survivor or a repeat\'s member); this step\'s target is local: use local.… or tools.…',
    ]);
  });
});
