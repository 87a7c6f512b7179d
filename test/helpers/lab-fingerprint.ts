import { readdir } from 'node:fs/promises';
import { execa } from 'execa';
import type { LabCluster } from '../../src/lab/cluster.js';
import type { LabNode } from '../../src/lab/node/node.js';

/**
 * Everything a dry run must leave alone: the member list as etcd reports it,
 * and every file and directory a runbook touches on every node
 * (nodeFingerprint: configuration, manifests, PKI, data dirs) by content and mode — plus whatever extra dirs a test names (where a
 * run would write: backups, snapshots). Logs, pidfiles and etcd's WAL (which
 * an idle member may touch) are left out.
 */
export async function labFingerprint(lab: LabCluster, extraDirs: string[] = []): Promise<Record<string, string>> {
  const print: Record<string, string> = {};
  print['member list'] = await execa('etcdctl', [...lab.etcdctlFlags(), '--command-timeout=5s', 'member', 'list']).then(
    (r) => r.stdout,
    () => '(no member answered)',
  );
  for (const member of lab.members) Object.assign(print, await nodeFingerprint(member.node));
  for (const dir of extraDirs) print[dir] = (await readdir(dir).catch(() => ['(absent)'])).join(',');
  return print;
}

/**
 * A real node's side of it, read inside the node: etcd's and Kubernetes'
 * configuration, the kubelet's, the units, root's home, and every
 * /var/lib/etcd* (the data dir, any set aside, backups). Files inside a
 * data dir count by mode only: the node's apiserver stand-in keeps writing
 * while it has quorum, and a move or removal shows either way.
 */
async function nodeFingerprint(node: LabNode): Promise<Record<string, string>> {
  const script = `
for p in $(find /etc/etcd /etc/kubernetes /etc/systemd/system /usr/lib/systemd/system/kubelet.service.d /var/lib/kubelet /root /var/lib/etcd* -xdev \\( -type d -o -type f \\) 2>/dev/null | grep -v -e '/wal$' -e '/wal/' -e '\\.wal$' -e '\\.tmp$' | sort); do
  if [ -d "$p" ]; then echo "$p $(stat -c %a "$p") dir"
  else case "$p" in
    /var/lib/etcd*/member/*) echo "$p $(stat -c %a "$p") file" ;;
    *) echo "$p $(stat -c %a "$p") $(sha256sum < "$p" | cut -d' ' -f1)" ;;
  esac; fi
done`;
  const result = await node.exec(script, { timeoutMs: 60_000 });
  if (result.exitCode !== 0) throw new Error(`fingerprint of node ${node.name} failed: ${result.stderr}`);
  const print: Record<string, string> = {};
  for (const line of result.stdout.split('\n').filter(Boolean)) {
    const [path, ...rest] = line.split(' ');
    print[`${node.name}:${path}`] = rest.join(' ');
  }
  return print;
}
