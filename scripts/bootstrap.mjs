#!/usr/bin/env node
// Makes a fresh machine that has only Node and npm ready to run etcd-runbook's
// drill, tests and benchmarks: npm dependencies, the system tools the lab
// drives for real (etcd, etcdctl, openssl, sshd), and the compiled CLI.
// Uses nothing but Node's standard library, since it runs before `npm ci`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (line) => process.stderr.write(`bootstrap: ${line}\n`);

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...options });
  if (result.status !== 0) {
    say(`${cmd} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}

function onPath(tool) {
  if (tool.startsWith('/')) return existsSync(tool);
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

function ensureNodeModules() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  say('installing npm dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

// tool on PATH -> Debian package that provides it
const SYSTEM_TOOLS = [
  ['etcd', 'etcd-server'],
  ['etcdctl', 'etcd-client'],
  ['openssl', 'openssl'],
  ['/usr/sbin/sshd', 'openssh-server'],
  ['ssh', 'openssh-client'],
  ['ssh-keygen', 'openssh-client'],
  ['scp', 'openssh-client'],
  ['sha256sum', 'coreutils'],
];

function ensureSystemTools() {
  const missing = SYSTEM_TOOLS.filter(([tool]) => !onPath(tool));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map(([, pkg]) => pkg))];
  const tools = missing.map(([tool]) => tool).join(', ');
  const isRoot = process.getuid?.() === 0;
  const sudo = !isRoot && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
  if (onPath('apt-get') && (isRoot || sudo)) {
    say(`missing ${tools}: installing Debian packages ${packages.join(' ')}`);
    const prefix = isRoot ? [] : ['sudo', '-n'];
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const apt = (...args) => run(prefix[0] ?? 'apt-get', [...prefix.slice(1), ...(prefix.length ? ['apt-get'] : []), ...args], { env });
    apt('update', '-qq');
    apt('install', '-y', '-qq', '--no-install-recommends', ...packages);
    const still = SYSTEM_TOOLS.filter(([tool]) => !onPath(tool)).map(([tool]) => tool);
    if (still.length === 0) return;
    say(`still missing after apt-get: ${still.join(', ')}`);
    process.exit(1);
  }
  say(`missing ${tools}. Install them, then re-run:`);
  say(`  Debian/Ubuntu: sudo apt-get install ${packages.join(' ')}`);
  say('  elsewhere: etcd and etcdctl 3.4+ from https://github.com/etcd-io/etcd/releases on PATH, plus openssl and OpenSSH (sshd, ssh-keygen, scp)');
  process.exit(1);
}

function build() {
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}

ensureNodeModules();
ensureSystemTools();
build();
