import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventoryFile, parseInventory, serializeInventory } from '../../src/inventory/file.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { rejectedMessage, thrownMessage } from './inventory-helpers.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'inventory');
const fixture = (name: string): string => readFileSync(join(fixtures, name), 'utf8');

describe('parseInventory', () => {
  it("reads the README's commented example (every field it documents is one the schema accepts)", () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const example = /```yaml\n(apiVersion: etcd-runbook\/v1[\s\S]*?)```/.exec(readme)?.[1];
    expect(example, 'the README has an inventory example').toBeDefined();
    const inventory = parseInventory(example ?? '', 'README.md');
    expect(inventory.members.map((member) => member.node?.layout)).toEqual(['kubeadm', 'systemd']);
    expect(inventory.members[1]?.node?.guessed).toEqual(['host', 'layout', 'paths']);
  });

  it('reads a complete inventory', () => {
    const inventory = parseInventory(fixture('valid.yaml'), 'valid.yaml');
    expect(inventory.members.map((member) => member.name)).toEqual(['k8s-master-1', 'k8s-master-2', 'k8s-master-3']);
    expect(inventory.members[0]?.node?.ssh).toEqual({ user: 'root', port: 22, agent: true });
    expect(inventory.members[0]?.node?.paths?.manifestsDir).toBe('/etc/kubernetes/manifests');
    expect(inventory.tls?.cert).toBe('/etc/kubernetes/pki/etcd/healthcheck-client.crt');
  });

  it('names file, line and field of a peer URL without a scheme', () => {
    expect(thrownMessage(() => parseInventory(fixture('bad-peer-url.yaml'), 'cluster.yaml'))).toBe(
      'cluster.yaml:9: members[1].peerURLs[0]: must be an http:// or https:// URL with a host, e.g. https://10.0.0.1:2379',
    );
  });

  it('points a missing required field at its member', () => {
    expect(thrownMessage(() => parseInventory(fixture('missing-client-urls.yaml'), 'cluster.yaml'))).toBe(
      'cluster.yaml:5: members[1].clientURLs: is required',
    );
  });

  it('points an unknown field at its key', () => {
    expect(thrownMessage(() => parseInventory(fixture('unknown-field.yaml'), 'cluster.yaml'))).toBe(
      'cluster.yaml:8: members[0].node.sshh: unknown field: check the spelling',
    );
  });

  it('reports the first problem in file order and counts the rest', () => {
    expect(thrownMessage(() => parseInventory(fixture('many-problems.yaml'), 'cluster.yaml'))).toBe(
      'cluster.yaml:5: members[0].node.ssh.port: must be at most 65535 (and 2 more problems)',
    );
  });

  it('explains a wrong value of an enum', () => {
    const text = 'members:\n  - name: a\n    peerURLs: [https://10.0.0.1:2380]\n    clientURLs: [https://10.0.0.1:2379]\n    node:\n      host: a\n      layout: static-pod\n';
    expect(thrownMessage(() => parseInventory(text, 'c.yaml'))).toBe(
      'c.yaml:7: members[0].node.layout: must be "kubeadm" or "systemd", got "static-pod"',
    );
  });

  it('explains a value of the wrong type', () => {
    const text = 'members:\n  - name: a\n    peerURLs: https://10.0.0.1:2380\n    clientURLs: [https://10.0.0.1:2379]\n';
    expect(thrownMessage(() => parseInventory(text, 'c.yaml'))).toBe(
      'c.yaml:3: members[0].peerURLs: must be a list, got string "https://10.0.0.1:2380"',
    );
  });

  it('names both members when a name is used twice', () => {
    const text =
      'members:\n  - name: a\n    peerURLs: [https://10.0.0.1:2380]\n    clientURLs: [https://10.0.0.1:2379]\n' +
      '  - name: a\n    peerURLs: [https://10.0.0.2:2380]\n    clientURLs: [https://10.0.0.2:2379]\n';
    expect(thrownMessage(() => parseInventory(text, 'c.yaml'))).toBe(
      'c.yaml:5: members[1].name: duplicate member name "a" (also members[0])',
    );
  });

  it('reports YAML syntax errors with their line', () => {
    expect(thrownMessage(() => parseInventory(fixture('syntax-error.yaml'), 'cluster.yaml'))).toBe(
      'cluster.yaml:4: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ] (and 1 more problem)',
    );
  });

  it('reports a duplicate key as a syntax error on its line', () => {
    expect(thrownMessage(() => parseInventory(fixture('duplicate-key.yaml'), 'cluster.yaml'))).toBe(
      'cluster.yaml:5: YAML syntax error: Map keys must be unique',
    );
  });

  it('refuses an empty file', () => {
    expect(thrownMessage(() => parseInventory(fixture('empty.yaml'), 'cluster.yaml'))).toBe(
      'cluster.yaml:1: the file is empty: expected an inventory with members:',
    );
  });

  it('refuses a top level that is not a mapping', () => {
    expect(thrownMessage(() => parseInventory('- a\n- b\n', 'cluster.yaml'))).toBe(
      'cluster.yaml:1: (top level): must be a mapping (key: value), got a list',
    );
  });

  it('keeps every message on one line', () => {
    for (const name of ['bad-peer-url.yaml', 'many-problems.yaml', 'syntax-error.yaml', 'unknown-field.yaml']) {
      expect(thrownMessage(() => parseInventory(fixture(name), name))).not.toContain('\n');
    }
  });
});

describe('loadInventoryFile', () => {
  it('reads the file named by --inventory', async () => {
    const inventory = await loadInventoryFile(join(fixtures, 'valid.yaml'));
    expect(inventory.cluster?.name).toBe('prod-eu1');
  });

  it('says the file cannot be read and why', async () => {
    expect(await rejectedMessage(() => loadInventoryFile('cluster.yaml'))).toBe(
      'cluster.yaml: cannot read (ENOENT): check the --inventory path',
    );
  });

  it('says a directory cannot be read', async () => {
    expect(await rejectedMessage(() => loadInventoryFile(fixtures))).toBe(`${fixtures}: cannot read (EISDIR): check the --inventory path`);
  });
});

describe('serializeInventory', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'inventory-file-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const awkward: Inventory = {
    members: [
      {
        clientURLs: ['https://10.0.0.1:2379'],
        peerURLs: ['https://10.0.0.1:2380'],
        name: "m;rm -rf / 'x' \"y\" $(z)",
        guessed: ['clientURLs'],
      },
      { name: 'master one: #2', peerURLs: ['https://10.0.0.2:2380'], clientURLs: ['https://10.0.0.2:2379'] },
      { name: '主节点-yes', peerURLs: ['https://10.0.0.3:2380'], clientURLs: ['https://10.0.0.3:2379'] },
      { name: 'true', peerURLs: ['https://10.0.0.4:2380'], clientURLs: ['https://10.0.0.4:2379'] },
    ],
    kind: 'Inventory',
    apiVersion: 'etcd-runbook/v1',
  };

  it('round-trips, names with metacharacters and unicode included', () => {
    expect(parseInventory(serializeInventory(awkward), 'saved.yaml')).toEqual(awkward);
  });

  it('writes keys in the schema order with a header comment', () => {
    const text = serializeInventory(awkward, ['client URL of a guessed']);
    const lines = text.split('\n');
    expect(lines.slice(0, 3)).toEqual([
      '# etcd-runbook inventory: the etcd members, how to reach their nodes, where their files are.',
      '# Use it with: etcd-runbook --inventory <this file>',
      '# client URL of a guessed',
    ]);
    expect(lines[3]).toBe('apiVersion: etcd-runbook/v1');
    expect(lines[4]).toBe('kind: Inventory');
    expect(text.indexOf('name:')).toBeLessThan(text.indexOf('peerURLs:'));
    expect(text.indexOf('peerURLs:')).toBeLessThan(text.indexOf('clientURLs:'));
  });

  it('writes the same bytes for the same inventory whatever its key order', () => {
    const reordered = JSON.parse(JSON.stringify({ members: awkward.members, apiVersion: awkward.apiVersion, kind: awkward.kind })) as Inventory;
    expect(serializeInventory(reordered)).toBe(serializeInventory(awkward));
  });

  it('round-trips the full fixture through a file', async () => {
    const original = parseInventory(fixture('valid.yaml'), 'valid.yaml');
    const { writeFileSync } = await import('node:fs');
    const path = join(tmp, 'saved.yaml');
    writeFileSync(path, serializeInventory(original));
    expect(await loadInventoryFile(path)).toEqual(original);
  });
});

describe('serializeInventory notes', () => {
  it('keeps a note with a newline inside its comment line', () => {
    const inventory: Inventory = { members: [{ name: 'a', peerURLs: ['https://10.0.0.1:2380'], clientURLs: ['https://10.0.0.1:2379'] }] };
    const text = serializeInventory(inventory, ['first\nmembers: []']);
    expect(text.split('\n')[2]).toBe('# first members: []');
    expect(parseInventory(text, 'saved.yaml')).toEqual(inventory);
  });
});
