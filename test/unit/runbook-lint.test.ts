import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lintFiles } from '../../src/cli/lint.js';
import { findRunbook, formatProblem, lintRunbook, listRunbooks, parseRunbook, shippedRunbookDir } from '../../src/runbook/loader.js';
import { internalReference, operatorTexts } from '../../src/runbook/standalone-text.js';

const fixture = (name: string) => `test/fixtures/runbooks/lint/${name}.yaml`;
const lint = (name: string, guardNames?: string[]) => lintRunbook(readFileSync(fixture(name), 'utf8'), fixture(name), guardNames ? { guardNames } : {}).map(formatProblem);

describe('lintRunbook', () => {
  it('passes a valid runbook', () => {
    expect(lint('valid')).toEqual([]);
  });

  it('reports every schema problem with file, line and field', () => {
    const f = fixture('bad-schema');
    expect(lint('bad-schema')).toEqual([
      `${f}:1: id: must be lower-case words joined by dashes`,
      `${f}:4: appliesTo[1]: must be "healthy" or "minority-lost" or "quorum-lost" or "split-brain" or "unreachable" or "alarm", got "sunny"`,
      `${f}:11: steps[0].risk: must be "read-only" or "changes" or "destructive", got "safe"`,
      `${f}:17: steps[1].kind: unknown step kind "shell": must be one of command, etcd, copy, wait, manual, snapshot-restore, move-aside, edit-config, renew-certificates`,
      `${f}:25: steps[2].until: must be "cluster-healthy" or "member-healthy" or "member-in-sync" or "member-rejoined" or "quorum" or "single-cluster-id" or "members-stopped", got "forever"`,
      `${f}:27: steps[2].colour: unknown field: check the spelling`,
    ]);
  });

  it('reports unknown variables, raw misuse, unknown guards and undeclared targets on the line of the field', () => {
    const f = fixture('bad-templates');
    expect(lint('bad-templates')).toEqual([
      `${f}:9: inputs[0].default: {{ inputs.other }}: an input default can use only the inputs declared above it (none here): use inventory, cluster, detection, tools or local`,
      `${f}:17: steps[0].run: unknown variable {{ member.dataDri }}: member has name, id, peerURL, clientURL, host, layout, dataDir, walDir, pkiDir, manifestsDir, unitFile, envFile, backupDir, etcdBinary, etcdctl, etcdutl, kubernetesDir, kubeconfig, kubeletDir, kubeletDropIn, kubeletPackageDropIn, service, kubelet, controlPlane`,
      `${f}:24: steps[1].run: {{ member.dataDir | raw }}: "raw" is only for command fragments (the member's service, kubelet and controlPlane start, stop, isActive); every other value is quoted`,
      `${f}:31: steps[2].run: {{ member.name }}: member is only defined on steps that run on members (target each-member, each-surviving-member, each-other-member, member, survivor or a repeat's member); this step's target is local: use local.… or tools.…`,
      expect.stringMatching(new RegExp(`^${f}:33: steps\\[2\\]\\.guards\\[0\\]\\.check: unknown guard "quorum-hold" \\(known: quorum-held, `)),
      `${f}:37: steps[3].target: target survivor needs the runbook to declare an input named "survivor"`,
      `${f}:40: steps[3].instruction: {{ survivor.host }}: survivor is the member named by inputs.survivor: declare an input named "survivor"`,
    ]);
  });

  it('takes the guard names from an injected list', () => {
    expect(lint('valid', ['quorum-held'])).toEqual([
      `${fixture('valid')}:27: steps[1].guards[0].check: unknown guard "would-lose-quorum" (known: quorum-held)`,
    ]);
  });

  it('checks guard and etcd action parameters against what they need', () => {
    const text = `id: params
title: Params
description: d
appliesTo: [healthy]
steps:
  - id: save
    title: Save
    why: w
    target: local
    kind: etcd
    action: snapshot-save
    risk: changes
    check:
      check: snapshot-verified
      with:
        node: local
        file: /tmp/x.db
`;
    expect(lintRunbook(text, 'p.yaml').map(formatProblem)).toEqual([
      'p.yaml:6: steps[0].with: etcd action snapshot-save needs "path"',
      'p.yaml:16: steps[0].check.with: guard snapshot-verified needs "path" (the snapshot file)',
      'p.yaml:17: steps[0].check.with.file: guard snapshot-verified has no parameter "file" (it takes node, path, skipHashCheck, serverVersion, given)',
    ]);
  });

  it('refuses filesOnly on a command that starts or stops a service, sends a signal or writes to etcd', () => {
    const step = (id: string, run: string) => `  - id: ${id}
    title: t
    why: w
    target: member
    kind: command
    risk: changes
    filesOnly: true
    run: ${run}
`;
    const text = `id: files
title: Files
description: d
appliesTo: [minority-lost]
inputs:
  - name: member
    description: m
    type: member
steps:
${step('start', '"{{ member.service.start | raw }}"')}${step('systemctl', 'systemctl restart etcd')}${step('signal', 'test -f /x && kill -TERM 1234')}${step('write', '"{{ tools.etcdctl }} put /a b"')}${step('files', '"mkdir -p -- {{ member.dataDir }}.aside && {{ member.service.isActive | raw }} || echo idle"')}`;
    expect(lintRunbook(text, 'files.yaml').map(formatProblem)).toEqual([
      'files.yaml:16: steps[0].filesOnly: the command runs {{ member.service.start }}, so it does not change files only: remove filesOnly',
      'files.yaml:24: steps[1].filesOnly: the command runs systemctl restart, so it does not change files only: remove filesOnly',
      'files.yaml:32: steps[2].filesOnly: the command sends a signal (kill), so it does not change files only: remove filesOnly',
      'files.yaml:40: steps[3].filesOnly: the command writes to etcd (put), so it does not change files only: remove filesOnly',
    ]);
  });

  it('does not let member stand for many members in a fan-out step\'s title or after-check', () => {
    const text = `id: fan
title: Fan
description: d
appliesTo: [healthy]
steps:
  - id: look
    title: Look at {{ member.name }}
    why: w
    target: each-member
    kind: command
    risk: read-only
    run: ls {{ member.dataDir }}
`;
    expect(lintRunbook(text, 'f.yaml').map(formatProblem)).toEqual([
      'f.yaml:7: steps[0].title: {{ member.name }}: this step runs on each-member, so member is not one member here: use it in the per-node fields (run, with, instruction, paths) or in guards',
    ]);
  });

  it('lets an input default use the inputs declared above it, not those below', () => {
    const text = `id: defaults
title: Defaults
description: d
appliesTo: [healthy]
inputs:
  - name: dir
    description: d
    default: "{{ tools.backupDir }}/{{ inputs.member }}"
  - name: member
    description: m
    type: member
  - name: hostDir
    description: h
    default: "{{ inputs.dir }}/hosts/{{ inputs.member }}"
steps:
  - id: look
    title: Look
    why: w
    target: local
    kind: command
    risk: read-only
    run: ls {{ inputs.hostDir }}
`;
    expect(lintRunbook(text, 'd.yaml').map(formatProblem)).toEqual([
      'd.yaml:8: inputs[0].default: {{ inputs.member }}: an input default can use only the inputs declared above it (none here): use inventory, cluster, detection, tools or local',
    ]);
    const later = text.replace('{{ inputs.dir }}/hosts/', '{{ inputs.dir }}/{{ inputs.later }}/').replace('"{{ tools.backupDir }}/{{ inputs.member }}"', '/b');
    expect(lintRunbook(later, 'd.yaml').map(formatProblem)).toEqual([
      'd.yaml:14: inputs[2].default: unknown variable {{ inputs.later }}: inputs has dir, member',
    ]);
  });

  it('refuses a why that cites an internal document, naming file, line and field', () => {
    const text = readFileSync(fixture('valid'), 'utf8').replace('why: a stopped member cannot vote', 'why: a stopped member cannot vote (DESIGN §10.9)');
    expect(lintRunbook(text, 'why.yaml').map(formatProblem)).toEqual([
      'why.yaml:21: steps[1].why: cites "DESIGN §10.9", a document that does not ship with etcd-runbook: state the reason itself, and cite public pages (etcd.io, kubernetes.io) by URL in source',
    ]);
    expect(() => parseRunbook(text, 'why.yaml')).toThrow(/^why\.yaml:21: steps\[1\]\.why: cites "DESIGN §10\.9"/);
  });

  it('refuses internal references in every text an operator reads: sources, input descriptions, source, guard messages, repeated steps', () => {
    const f = fixture('internal-references');
    const cites = (line: number, field: string, cited: string) =>
      `${f}:${line}: ${field}: cites "${cited}", a document that does not ship with etcd-runbook: state the reason itself, and cite public pages (etcd.io, kubernetes.io) by URL in source`;
    expect(lint('internal-references')).toEqual([
      cites(7, 'sources[0]', 'field-notes/001'),
      cites(10, 'inputs[0].description', 'field-notes/002'),
      cites(15, 'steps[0].why', 'DESIGN §10.9'),
      cites(30, 'steps[1].guards[0].message', 'field note 004'),
      cites(31, 'steps[1].source', 'field-notes/002'),
      cites(39, 'steps[2].steps[0].why', '§10.5'),
    ]);
  });

  it('lets a source cite public pages and the command they show', () => {
    expect(internalReference('https://etcd.io/docs/v3.5/op-guide/recovery/ (etcdutl snapshot restore)')).toBeUndefined();
    expect(internalReference('kubectl get pods --field-selector spec.nodeName=m1')).toBeUndefined();
    expect(internalReference('see ../shared/DESIGN.md')).toBe('../shared/DESIGN.md');
    expect(internalReference('Field notes: 002')).toBe('Field notes');
  });

  it('reports a YAML syntax error and an empty file as problems', () => {
    expect(lintRunbook('id: x\ntitle: "open\n', 'y.yaml').map(formatProblem)[0]).toMatch(/^y\.yaml:2: \(yaml\): YAML syntax error: /);
    expect(lintRunbook('', 'e.yaml').map(formatProblem)).toEqual(['e.yaml:1: (top level): the file is empty: expected a runbook with id, title, appliesTo and steps']);
  });
});

describe('parseRunbook', () => {
  it('throws the first problem as one line with a count of the others', () => {
    const f = fixture('bad-schema');
    expect(() => parseRunbook(readFileSync(f, 'utf8'), f)).toThrow(
      `${f}:1: id: must be lower-case words joined by dashes (and 5 more problems); run 'etcd-runbook lint ${f}' to see them all`,
    );
  });
});

describe('shipped runbooks', () => {
  it('live in <package root>/runbooks and all lint clean', async () => {
    expect(shippedRunbookDir()).toBe(`${process.cwd()}/runbooks`);
    const entries = await listRunbooks();
    expect(entries.map((e) => e.id)).toContain('backup');
    expect(await lintFiles(entries.map((e) => e.file))).toEqual([]);
  });

  it('hold no citation of a document that does not ship, in any text an operator reads', async () => {
    const { parse } = await import('yaml');
    for (const { file } of await listRunbooks()) {
      const texts = operatorTexts(parse(readFileSync(file, 'utf8')));
      expect(texts.length).toBeGreaterThan(10);
      expect(texts.filter(({ text }) => internalReference(text)).map(({ path }) => `${file} ${path.join('.')}`)).toEqual([]);
      // every runbook and step source cites public pages by URL
      const sources = texts.filter(({ path }) => path[0] === 'sources' || path[path.length - 1] === 'source');
      expect(sources.filter(({ text }) => !/^https:\/\//.test(text)).map(({ path }) => `${file} ${path.join('.')}`)).toEqual([]);
    }
  });

  it('finds a runbook by id, and names the known ones when there is none', async () => {
    expect((await findRunbook('backup')).appliesTo).toEqual(['healthy', 'minority-lost']);
    await expect(findRunbook('bakup')).rejects.toThrow(/^no runbook "bakup" in .*\/runbooks \(known: .*backup.*\); or pass a file/);
  });

  it('lintFiles reports an unreadable file instead of stopping', async () => {
    expect((await lintFiles(['nope.yaml'])).map(formatProblem)).toEqual(['nope.yaml:1: (file): cannot read (ENOENT)']);
  });
});
