#!/usr/bin/env node
// Makes a fresh machine that has only Node and npm ready to run etcd-runbook's
// drill, tests and benchmarks: npm dependencies, the system tools the lab
// drives for real (etcd, etcdctl, openssl, sshd, systemd for lab nodes), etcd
// 3.5 in a private cache (never installed system-wide), and the compiled CLI.
// Uses nothing but Node's standard library, since it runs before `npm ci`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
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
  // lab nodes (src/lab/node.ts): systemd as each node's PID 1, entered with nsenter
  ['/lib/systemd/systemd', 'systemd'],
  ['unshare', 'util-linux'],
  ['nsenter', 'util-linux'],
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

// Debian trixie's etcd 3.5 for lab nodes, unpacked into a cache and never
// installed: src/lab/etcd-versions.ts reads the same directory (keep in step).
const TRIXIE_ETCD = ['etcd-server', 'etcd-client'];
const ETCD35_BINARIES = ['etcd', 'etcdctl', 'etcdutl'];
const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

function cacheDir() {
  if (process.env.ETCD_RUNBOOK_CACHE) return process.env.ETCD_RUNBOOK_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'etcd-runbook');
}

function ensureEtcd35() {
  const target = join(cacheDir(), 'etcd-3.5');
  if (ETCD35_BINARIES.every((name) => existsSync(join(target, 'usr', 'bin', name)))) return;
  if (!onPath('apt-get') || !onPath('dpkg') || !existsSync(DEBIAN_KEYRING)) {
    say(`etcd 3.5 is not in ${target} and this is not a Debian machine with apt-get and ${DEBIAN_KEYRING}:`);
    say('  the drill and lab nodes with etcd 3.5 (the default) will refuse to start; --etcd 3.4 still works');
    return;
  }
  say(`fetching Debian trixie's ${TRIXIE_ETCD.join(' ')} into ${target} (not installed system-wide)`);
  const apt = join(cacheDir(), 'apt');
  const debs = join(apt, 'debs');
  for (const dir of [join(apt, 'lists', 'partial'), join(apt, 'cache', 'archives', 'partial'), debs]) mkdirSync(dir, { recursive: true });
  const sources = join(apt, 'sources.list');
  writeFileSync(sources, `deb [signed-by=${DEBIAN_KEYRING}] http://deb.debian.org/debian trixie main\n`);
  // a private apt: its own sources, lists and cache, so the host's apt state is neither read for sources nor written
  const options = [
    ['Dir::Etc::SourceList', sources],
    ['Dir::Etc::SourceParts', '-'],
    ['Dir::State::Lists', join(apt, 'lists')],
    ['Dir::Cache', join(apt, 'cache')],
    ['APT::Sandbox::User', userInfo().username],
  ].flatMap(([key, value]) => ['-o', `${key}=${value}`]);
  run('apt-get', [...options, '-qq', 'update']);
  rmSync(debs, { recursive: true, force: true });
  mkdirSync(debs);
  run('apt-get', [...options, '-qq', 'download', ...TRIXIE_ETCD.map((pkg) => `${pkg}/trixie`)], { cwd: debs });
  // unpack beside the target and rename, so a half-unpacked cache is never taken for a complete one
  const partial = `${target}.partial`;
  rmSync(partial, { recursive: true, force: true });
  for (const pkg of TRIXIE_ETCD) run('sh', ['-c', 'dpkg -x "$1"_*.deb "$2"', 'sh', join(debs, pkg), partial]);
  rmSync(target, { recursive: true, force: true });
  renameSync(partial, target);
  run(join(target, 'usr', 'bin', 'etcd'), ['--version'], { stdio: 'ignore' });
}

function build() {
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}

ensureNodeModules();
ensureSystemTools();
ensureEtcd35();
build();
