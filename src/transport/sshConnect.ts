import { readFile, access } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, AuthenticationType, AuthHandlerMiddleware, Client, ConnectConfig, NextAuthHandler, ParsedKey, ServerHostKeyAlgorithm } from 'ssh2';
import type { InventoryNode } from '../inventory/schema.js';
import { OperatorError } from '../util/errors.js';
import { shellQuote } from '../util/shell.js';
import { knownHostsName } from './hostPatterns.js';
import {
  appendKnownHost,
  checkHostKey,
  fingerprint,
  keyTypeOf,
  knownHostsLine,
  knownKeyTypes,
  readKnownHosts,
} from './knownHosts.js';
import { loadSshConfig, type SshConfigResult } from './sshConfig.js';

/**
 * Opening one authenticated, host-key-verified ssh2 connection: where to
 * connect (inventory, then ~/.ssh/config), who we are (key files, agent) and
 * whether the server is who we think it is (known_hosts, or the operator).
 */

export interface HostKeyOffer {
  host: string;
  port: number;
  keyType: string;
  /** `SHA256:...`, as ssh prints it */
  fingerprint: string;
}

export type HostKeyDecision = 'accept-once' | 'accept-and-save' | 'reject';

export interface SshCallbacks {
  /** asked for an encrypted key's passphrase; the answer is never logged */
  askPassphrase?: (keyPath: string) => Promise<string>;
  /** asked when a host is not in known_hosts; without it unknown hosts are refused */
  confirmHostKey?: (offer: HostKeyOffer) => Promise<HostKeyDecision>;
}

export interface SshEndpointOptions {
  /** ~/.ssh/config by default; false to ignore it */
  sshConfigPath?: string | false;
  /** overrides node.ssh.knownHosts and ~/.ssh/known_hosts */
  knownHostsFile?: string;
  /** write accepted keys hashed (`|1|salt|hash`), as Debian's HashKnownHosts yes does */
  hashKnownHosts?: boolean;
  /** where SSH_AUTH_SOCK is read from */
  env?: NodeJS.ProcessEnv;
  connectTimeoutMs?: number;
}

/** Everything needed to connect, resolved once per transport. */
export interface SshEndpoint {
  host: string;
  port: number;
  user: string;
  /** `user@host:port`, the pool key and the prefix of every message */
  label: string;
  identityFiles: string[];
  /** identity files were named explicitly (inventory or config), not defaults */
  explicitIdentity: boolean;
  agentSocket?: string;
  knownHostsFile: string;
  hashKnownHosts: boolean;
  connectTimeoutMs: number;
}

const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

export async function resolveEndpoint(target: Pick<InventoryNode, 'host' | 'ssh'>, options: SshEndpointOptions = {}): Promise<SshEndpoint> {
  const ssh = target.ssh ?? {};
  const home = homedir();
  const configPath = options.sshConfigPath === undefined ? join(home, '.ssh', 'config') : options.sshConfigPath;
  const config: SshConfigResult = configPath === false ? { identityFiles: [], ignored: [] } : await loadSshConfig(configPath, target.host, { ...(ssh.user ? { user: ssh.user } : {}) });
  const host = config.hostName ?? target.host;
  const port = ssh.port ?? config.port ?? 22;
  const user = ssh.user ?? config.user ?? userInfo().username;
  const named = [...(ssh.identityFile ? [expandHome(ssh.identityFile, home)] : []), ...config.identityFiles];
  const identityFiles = named.length > 0 ? named : await existingDefaults(home);
  const socket = (options.env ?? process.env).SSH_AUTH_SOCK;
  const useAgent = ssh.agent ?? true;
  return {
    host,
    port,
    user,
    label: `${user}@${host}:${port}`,
    identityFiles,
    explicitIdentity: named.length > 0,
    ...(useAgent && socket ? { agentSocket: socket } : {}),
    knownHostsFile: options.knownHostsFile ?? (ssh.knownHosts ? expandHome(ssh.knownHosts, home) : join(home, '.ssh', 'known_hosts')),
    hashKnownHosts: options.hashKnownHosts ?? true,
    connectTimeoutMs: options.connectTimeoutMs ?? 15_000,
  };
}

function expandHome(path: string, home: string): string {
  return path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

async function existingDefaults(home: string): Promise<string[]> {
  const candidates = DEFAULT_IDENTITIES.map((name) => join(home, '.ssh', name));
  const present = await Promise.all(candidates.map((path) => access(path).then(() => true, () => false)));
  return candidates.filter((_, index) => present[index]);
}

/** Open the connection; every failure is an OperatorError naming the endpoint. */
export async function connect(endpoint: SshEndpoint, callbacks: SshCallbacks, acceptedOnce: Set<string>): Promise<Client> {
  const entries = await readKnownHosts(endpoint.knownHostsFile);
  const state: ConnectState = { tried: [] };
  const client = new ssh2.Client();
  const config: ConnectConfig = {
    host: endpoint.host,
    port: endpoint.port,
    username: endpoint.user,
    readyTimeout: endpoint.connectTimeoutMs,
    // a host that stops answering is noticed within ~30 s, not at TCP timeout
    keepaliveInterval: 10_000,
    keepaliveCountMax: 3,
    algorithms: { serverHostKey: preferKnownTypes(knownKeyTypes(entries, endpoint.host, endpoint.port)) },
    hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
      verifyHostKey(endpoint, entries, key, callbacks, acceptedOnce).then(
        () => verify(true),
        (err: unknown) => {
          state.failure = err instanceof OperatorError ? err : new OperatorError(`ssh ${endpoint.label}: ${String(err)}`);
          verify(false);
        },
      );
    },
    authHandler: authHandler(endpoint, callbacks, state),
  };
  return new Promise<Client>((resolve, reject) => {
    const onError = (err: Error & { level?: string; code?: string }): void => {
      client.removeListener('ready', onReady);
      client.end();
      reject(state.failure ?? connectError(endpoint, err, state));
    };
    const onReady = (): void => {
      client.removeListener('error', onError);
      resolve(client);
    };
    client.once('error', onError);
    client.once('ready', onReady);
    client.connect(config);
  });
}

interface ConnectState {
  /** set by the host verifier or key loading: the real reason, not ssh2's */
  failure?: OperatorError;
  tried: string[];
  /** an identity file left to the agent (locked, nobody to ask): the reason to give if the agent fails too */
  lockedKey?: LockedKeyError;
}

const HOST_KEY_ALGORITHMS: Record<string, ServerHostKeyAlgorithm[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/** Like OpenSSH: negotiate a key type we already know for this host, so a second type is not "unknown". */
export function preferKnownTypes(knownTypes: readonly string[]): ServerHostKeyAlgorithm[] {
  const all = Object.values(HOST_KEY_ALGORITHMS).flat();
  const preferred = knownTypes.flatMap((type) => HOST_KEY_ALGORITHMS[type] ?? []);
  return [...new Set([...preferred, ...all])];
}

async function verifyHostKey(
  endpoint: SshEndpoint,
  entries: Awaited<ReturnType<typeof readKnownHosts>>,
  key: Buffer,
  callbacks: SshCallbacks,
  acceptedOnce: Set<string>,
): Promise<void> {
  const check = checkHostKey(entries, endpoint.host, endpoint.port, key);
  const offered = fingerprint(key);
  const where = `${endpoint.knownHostsFile} line`;
  if (check.status === 'known') return;
  if (check.status === 'revoked') {
    throw new OperatorError(`ssh ${endpoint.label}: the server's host key ${offered} is marked @revoked in ${where} ${check.entry.line}: do not connect; find out why the host has a revoked key`);
  }
  if (check.status === 'mismatch') {
    const name = knownHostsName(endpoint.host, endpoint.port);
    throw new OperatorError(
      `ssh ${endpoint.label}: host key mismatch (${where} ${check.entry.line} has ${fingerprint(check.entry.key)}, server offered ${offered}): ` +
        `if the host was reinstalled, remove the old key with ssh-keygen -R ${shellQuote(name)} -f ${shellQuote(endpoint.knownHostsFile)}`,
    );
  }
  const onceKey = `${endpoint.host}:${endpoint.port}:${offered}`;
  if (acceptedOnce.has(onceKey)) return;
  await askAboutUnknownHost(endpoint, key, offered, callbacks);
  acceptedOnce.add(onceKey);
}

async function askAboutUnknownHost(endpoint: SshEndpoint, key: Buffer, offered: string, callbacks: SshCallbacks): Promise<void> {
  const keyType = keyTypeOf(key);
  if (!callbacks.confirmHostKey) {
    throw new OperatorError(
      `ssh ${endpoint.label}: host is not in ${endpoint.knownHostsFile} (${keyType} ${offered}): ` +
        `verify the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and add it, e.g. by connecting once with ssh`,
    );
  }
  const decision = await callbacks.confirmHostKey({ host: endpoint.host, port: endpoint.port, keyType, fingerprint: offered });
  if (decision === 'reject') {
    throw new OperatorError(`ssh ${endpoint.label}: host key ${offered} was not accepted: nothing was run on this host`);
  }
  if (decision === 'accept-and-save') {
    await appendKnownHost(endpoint.knownHostsFile, knownHostsLine(endpoint.host, endpoint.port, key, endpoint.hashKnownHosts));
  }
}

/** A passphrase-protected key and no way to ask for the passphrase. */
class LockedKeyError extends OperatorError {}

type AuthCandidate = { kind: 'agent'; socket: string } | { kind: 'key'; path: string };

/**
 * ssh2 asks for one method at a time; we offer the explicit key first, then
 * the agent, then the remaining key files. Keys are read (and passphrases
 * asked for) only when their turn comes, as ssh does.
 */
function authHandler(endpoint: SshEndpoint, callbacks: SshCallbacks, state: ConnectState): AuthHandlerMiddleware {
  const [first, ...rest] = endpoint.identityFiles;
  const queue: AuthCandidate[] = [
    ...(first && endpoint.explicitIdentity ? [{ kind: 'key' as const, path: first }] : []),
    ...(endpoint.agentSocket ? [{ kind: 'agent' as const, socket: endpoint.agentSocket }] : []),
    ...(first && !endpoint.explicitIdentity ? [{ kind: 'key' as const, path: first }] : []),
    ...rest.map((path) => ({ kind: 'key' as const, path })),
  ];
  return (_left: AuthenticationType[], _partial: boolean, next: NextAuthHandler): void => {
    nextMethod(queue, endpoint, callbacks, state).then(
      (method) => next(method ?? NO_MORE_METHODS),
      (err: unknown) => {
        state.failure = err instanceof OperatorError ? err : new OperatorError(`ssh ${endpoint.label}: ${String(err)}`);
        next(NO_MORE_METHODS);
      },
    );
  };
}

/** ssh2 takes `false` for "no more methods" (its README); @types/ssh2 leaves it out. */
const NO_MORE_METHODS = false as unknown as AuthenticationType;

async function nextMethod(queue: AuthCandidate[], endpoint: SshEndpoint, callbacks: SshCallbacks, state: ConnectState): Promise<AnyAuthMethod | undefined> {
  const candidate = queue.shift();
  if (!candidate) return undefined;
  if (candidate.kind === 'agent') {
    state.tried.push(`agent at ${candidate.socket}`);
    return { type: 'agent', username: endpoint.user, agent: candidate.socket };
  }
  const key = await loadKey(candidate.path, endpoint, callbacks).catch((err: unknown) => {
    // as ssh does, a locked identity file with nobody to ask is left to the agent, which may hold it unlocked
    if (!(err instanceof LockedKeyError) || !queue.some((next) => next.kind === 'agent')) throw err;
    state.lockedKey = err;
    return undefined;
  });
  if (!key) return nextMethod(queue, endpoint, callbacks, state);
  state.tried.push(`key ${candidate.path}`);
  return { type: 'publickey', username: endpoint.user, key };
}

const PASSPHRASE_TRIES = 3;

/** Read and decrypt a key; undefined when the file is missing (ssh skips those too). */
async function loadKey(path: string, endpoint: SshEndpoint, callbacks: SshCallbacks): Promise<ParsedKey | undefined> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch {
    return undefined;
  }
  const plain = ssh2.utils.parseKey(data);
  if (!(plain instanceof Error)) return plain;
  if (!/passphrase|encrypted/i.test(plain.message)) {
    throw new OperatorError(`ssh ${endpoint.label}: cannot read private key ${path} (${plain.message}): check it is an OpenSSH or PEM private key`);
  }
  if (!callbacks.askPassphrase) {
    throw new LockedKeyError(`ssh ${endpoint.label}: private key ${path} is passphrase-protected and no passphrase prompt is available: load it into ssh-agent (ssh-add ${shellQuote(path)}) or run interactively`);
  }
  for (let attempt = 0; attempt < PASSPHRASE_TRIES; attempt += 1) {
    const parsed = ssh2.utils.parseKey(data, await callbacks.askPassphrase(path));
    if (!(parsed instanceof Error)) return parsed;
  }
  throw new OperatorError(`ssh ${endpoint.label}: could not decrypt private key ${path} after ${PASSPHRASE_TRIES} passphrase attempts: check the passphrase, or load the key into ssh-agent`);
}

function connectError(endpoint: SshEndpoint, err: Error & { level?: string; code?: string }, state: ConnectState): OperatorError {
  const prefix = `ssh ${endpoint.label}`;
  if (err.level === 'client-authentication') {
    // the agent did not hold the locked key either: unlocking it is what to do
    if (state.lockedKey) return state.lockedKey;
    const tried = state.tried.length > 0 ? state.tried.join(', ') : 'no key file found and no agent';
    return new OperatorError(
      `${prefix}: authentication failed (tried ${tried}): check that the public key is in ~${endpoint.user}/.ssh/authorized_keys on the host, or set ssh.identityFile / ssh.user in the inventory`,
    );
  }
  if (err.level === 'client-timeout' || /timed out/i.test(err.message)) {
    return new OperatorError(`${prefix}: no SSH handshake within ${endpoint.connectTimeoutMs} ms: check the host is up and the port is right`);
  }
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'connection refused: is sshd running, and is the port right?',
    ENOTFOUND: 'host name not found: check the inventory host or ~/.ssh/config HostName',
    EHOSTUNREACH: 'host unreachable: check the network path to the host',
    ETIMEDOUT: 'connection timed out: check the host is up and reachable',
    ECONNRESET: 'connection reset by the host: check sshd on the host (MaxStartups, firewall)',
  };
  const reason = (err.code && reasons[err.code]) ?? `${err.message.replace(/\s+/g, ' ')}: check sshd on the host`;
  return new OperatorError(`${prefix}: ${reason}`);
}
