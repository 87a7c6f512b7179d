import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/inventory/schema.js';
import { LabCluster } from '../../src/lab/cluster.js';
import { copyFile, copyTree } from '../../src/transport/copy.js';
import { NodeTransports } from '../../src/transport/for-node.js';
import { LocalTransport } from '../../src/transport/local.js';
import { NsenterTransport } from '../../src/transport/nsenter.js';
import type { Transport } from '../../src/transport/types.js';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/**
 * The nsenter transport against a real lab node (systemd as PID 1 in its
 * own namespaces, a private /tmp and /root): commands run inside it as
 * root in a clean environment, files are read and written in its own
 * filesystem, copies to and from it are verified, and a node that is gone
 * is said in one line.
 */
describe('NsenterTransport on a real lab node', () => {
  let lab: LabCluster;
  let work: string;
  let node: Transport;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-nsenter-'));
    lab = await LabCluster.start({ members: 1, transport: 'nsenter' });
    const inventory = parse(await readFile(lab.inventoryPath, 'utf8')) as Inventory;
    // the transport the tool picks from the lab's inventory
    node = new NodeTransports(inventory).get('m1');
  }, 120_000);
  afterAll(async () => {
    await node?.close();
    await lab?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the inventory says nsenter with the node\'s PID 1, and commands run inside the node, as root, in a clean environment', async () => {
    expect(node.kind).toBe('nsenter');
    const inventory = parse(await readFile(lab.inventoryPath, 'utf8')) as Inventory;
    expect(inventory.members[0]?.node).toMatchObject({ transport: 'nsenter', nsenter: { pid: lab.member('m1').node.pid } });
    const result = await node.exec('hostname; cat /proc/1/comm; id -u; echo "$HOME"; env | grep -c VITEST || true; systemctl is-active etcd');
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout.split('\n').slice(0, 6)).toEqual(['m1', 'systemd', '0', '/root', '0', 'active']);
  });

  it('passes stdin, streams output and reports the exit code', async () => {
    const chunks: string[] = [];
    const result = await node.exec('cat; echo err >&2; exit 3', { input: 'from stdin\n', onStdout: (c) => chunks.push(c) });
    expect(result).toMatchObject({ exitCode: 3, stdout: 'from stdin\n', stderr: 'err\n', timedOut: false });
    expect(chunks.join('')).toBe('from stdin\n');
  });

  it('a timeout stops the command inside the node, not just nsenter', async () => {
    // a sleep of its own name: the node's control plane stand-ins sleep too
    await node.exec('cp /bin/sleep /var/tmp/nsenter-sleep');
    const result = await node.exec('/var/tmp/nsenter-sleep 31; echo never', { timeoutMs: 500 });
    expect(result).toMatchObject({ exitCode: null, timedOut: true });
    expect(result.stdout).toBe('');
    await new Promise((r) => setTimeout(r, 300));
    const left = await node.exec('pgrep -x nsenter-sleep || true');
    expect(left.stdout.trim()).toBe('');
  });

  it('files are the node\'s own: written there, invisible on the host, read back byte for byte, exclusive create, rename, links, listing', async () => {
    const dir = `/var/tmp/nsenter-${Date.now()}`;
    await node.mkdir(dir, 0o700);
    const bytes = randomBytes(5 * 1024 * 1024 + 17);
    const writer = await node.openWrite(`${dir}/blob`, 0o640);
    await new Promise<void>((resolve, reject) => writer.end(bytes, (err?: Error | null) => (err ? reject(err) : resolve())));
    expect(await node.stat(`${dir}/blob`)).toMatchObject({ type: 'file', size: bytes.length, mode: 0o640, uid: 0 });
    expect(sha256(await node.readFile(`${dir}/blob`))).toBe(sha256(bytes));
    // the host's /var/tmp is not the node's
    await expect(readFile(`${dir}/blob`)).rejects.toThrow(/ENOENT/);
    // never over an existing file: it stays whole
    const again = await node.openWrite(`${dir}/blob`, 0o600);
    again.on('error', () => undefined);
    await expect(new Promise<void>((resolve, reject) => {
      again.end(Buffer.from('x'), (err?: Error | null) => (err ? reject(err) : resolve()));
    })).rejects.toThrow(/nsenter m1 \(pid \d+\): writing .*blob failed/);
    expect((await node.stat(`${dir}/blob`))?.size).toBe(bytes.length);
    const before = await node.identity(`${dir}/blob`);
    await node.rename(`${dir}/blob`, `${dir}/moved`);
    expect(await node.stat(`${dir}/blob`)).toBeUndefined();
    expect((await node.identity(`${dir}/moved`))?.file).toBe(before?.file);
    await node.symlink('moved', `${dir}/link`);
    expect(await node.readlink(`${dir}/link`)).toBe('moved');
    expect((await node.readdir(dir)).sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'link', type: 'symlink' },
      { name: 'moved', type: 'file' },
    ]);
    await node.unlink(`${dir}/link`);
    await expect(node.readFile(`${dir}/absent`)).rejects.toThrow(`nsenter m1 (pid ${lab.member('m1').node.pid}): ${dir}/absent does not exist`);
    await expect(node.mkdir(`${dir}/moved/sub`, 0o700)).rejects.toThrow(/mkdir .*failed \(mkdir: cannot create directory/);
  });

  it('a disk that fills mid-write: the write fails with the node\'s own reason, naming node and path', async () => {
    // a 1 MiB tmpfs inside the node's own mount namespace
    const mounted = await node.exec('mkdir -p /mnt/tiny && mount -t tmpfs -o size=1m tmpfs /mnt/tiny');
    expect(mounted.exitCode, mounted.stderr).toBe(0);
    try {
      const writer = await node.openWrite('/mnt/tiny/big', 0o600);
      writer.on('error', () => undefined);
      const written = new Promise<void>((resolve, reject) => writer.end(randomBytes(8 * 1024 * 1024), (err?: Error | null) => (err ? reject(err) : resolve())));
      await expect(written).rejects.toThrow(/^nsenter m1 \(pid \d+\): writing \/mnt\/tiny\/big failed \(cat: .*No space left on device\)$/);
    } finally {
      await node.exec('umount /mnt/tiny');
    }
  });

  it('copies host → node and node → host, verified by sha256 on each side, and a tree with its modes', async () => {
    const local = new LocalTransport();
    const source = join(work, 'payload.bin');
    const bytes = randomBytes(24 * 1024 * 1024);
    await writeFile(source, bytes);
    const there = await copyFile({ transport: local, path: source }, { transport: node, path: '/var/lib/etcd-backup-copy.db' });
    expect(there.sha256).toBe(sha256(bytes));
    const back = await copyFile({ transport: node, path: '/var/lib/etcd-backup-copy.db' }, { transport: local, path: join(work, 'back.bin') });
    expect(sha256(await readFile(join(work, 'back.bin')))).toBe(sha256(bytes));
    expect(back.sha256).toBe(there.sha256);
    const tree = await copyTree({ transport: node, path: '/etc/etcd' }, { transport: local, path: join(work, 'etc-etcd') });
    expect(tree.files.length).toBeGreaterThan(0);
    expect(await readFile(join(work, 'etc-etcd', 'etcd.conf'), 'utf8')).toMatch(/^ETCD_NAME="?m1"?$/m);
  });

  it('a node that is gone: one line naming the node and its pid, nothing run', async () => {
    const gone = new NsenterTransport('m9', 2 ** 22 + 12345);
    await expect(gone.exec('true')).rejects.toThrow(`nsenter m9 (pid ${2 ** 22 + 12345}): no such process on this machine: is the container running? (node.nsenter.pid in the inventory)`);
  });
});
