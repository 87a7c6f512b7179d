import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKey } from '../sshd.js';
import { wantedAtBoot, type SeedEntry } from './seed.js';

/**
 * Debian's sshd as a unit inside a node, as on a real master: it listens on
 * the node's own address only, with a host key and an authorized key the lab
 * made (one pair per lab, shared by its nodes), and nothing in root's home.
 */
export interface NodeSshKeys {
  dir: string;
  /** the client key the lab (or the tool under test) logs in with */
  identityFile: string;
  hostKeyFile: string;
  /** `ssh-ed25519 AAAA…` */
  hostPublicKey: string;
  authorizedKey: string;
}

export const NODE_SSH_PORT = 22;

export async function createNodeSshKeys(labDir: string): Promise<NodeSshKeys> {
  const dir = join(labDir, 'ssh');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const [hostKeyFile, identityFile] = await Promise.all([generateKey(dir, 'ssh_host_ed25519_key'), generateKey(dir, 'id_ed25519')]);
  const [hostPub, userPub] = await Promise.all([readFile(`${hostKeyFile}.pub`, 'utf8'), readFile(`${identityFile}.pub`, 'utf8')]);
  return { dir, identityFile, hostKeyFile, hostPublicKey: keyWords(hostPub), authorizedKey: keyWords(userPub) };
}

/** A known_hosts file naming every node address with the lab's host key. */
export async function writeKnownHosts(keys: NodeSshKeys, addresses: string[]): Promise<string> {
  const path = join(keys.dir, 'known_hosts');
  await writeFile(path, addresses.map((address) => `${address} ${keys.hostPublicKey}\n`).join(''), { mode: 0o600 });
  return path;
}

export async function sshdSeed(keys: NodeSshKeys, address: string): Promise<SeedEntry[]> {
  return [
    { path: '/etc/ssh/sshd_config', content: sshdConfig(address) },
    { path: '/etc/ssh/ssh_host_ed25519_key', content: await readFile(keys.hostKeyFile, 'utf8'), mode: 0o600 },
    { path: '/etc/ssh/ssh_host_ed25519_key.pub', content: `${keys.hostPublicKey}\n` },
    { path: '/etc/ssh/authorized_keys/root', content: `${keys.authorizedKey}\n`, mode: 0o600 },
    { path: '/etc/systemd/system/sshd.service', content: SSHD_UNIT },
    wantedAtBoot('sshd.service'),
  ];
}

/** The authorized key lives outside root's home, so the home stays empty. */
function sshdConfig(address: string): string {
  return [
    `ListenAddress ${address}`,
    `Port ${NODE_SSH_PORT}`,
    'HostKey /etc/ssh/ssh_host_ed25519_key',
    'AuthorizedKeysFile /etc/ssh/authorized_keys/%u',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'PrintMotd no',
    'PrintLastLog no',
    'UseDNS no',
    'LogLevel ERROR',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

// Debian's sshd tells systemd when it listens (Type=notify), as its own ssh.service does
const SSHD_UNIT = `[Unit]
Description=OpenBSD Secure Shell server (lab node)
After=network.target

[Service]
Type=notify
ExecStartPre=/usr/sbin/sshd -t
ExecStart=/usr/sbin/sshd -D
ExecReload=/bin/kill -HUP $MAINPID
KillMode=process
Restart=on-failure
RuntimeDirectory=sshd
RuntimeDirectoryMode=0755

[Install]
WantedBy=multi-user.target
`;

function keyWords(line: string): string {
  return line.trim().split(/\s+/).slice(0, 2).join(' ');
}
