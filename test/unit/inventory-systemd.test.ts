import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { etcdFlagsFromUnit, parseEtcdEnvFile, parseSystemdUnit, splitWords } from '../../src/inventory/systemd.js';
import { thrownMessage } from './inventory-helpers.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures');
const read = (path: string): string => readFileSync(join(fixtures, path), 'utf8');

describe('parseSystemdUnit', () => {
  const unit = parseSystemdUnit(read('systemd/etc/systemd/system/etcd.service'), 'etcd.service');

  it('joins ExecStart continued with backslashes into one command', () => {
    expect(unit.execStart[0]).toBe('/usr/local/bin/etcd');
    expect(unit.execStart).toHaveLength(22);
    expect(unit.execStartLine).toBe(11);
    expect(unit.execStart).toContain('--wal-dir=');
  });

  it('reads the flags into the shared shape, an empty --wal-dir= left unset', () => {
    const etcd = etcdFlagsFromUnit(unit, []);
    expect(etcd.binary).toBe('/usr/local/bin/etcd');
    expect(etcd.flags).toEqual({
      name: 'etcd-192.168.0.37',
      certFile: '/etc/kubernetes/ssl/etcd.pem',
      keyFile: '/etc/kubernetes/ssl/etcd-key.pem',
      peerCertFile: '/etc/kubernetes/ssl/etcd.pem',
      peerKeyFile: '/etc/kubernetes/ssl/etcd-key.pem',
      trustedCaFile: '/etc/kubernetes/ssl/ca.pem',
      peerTrustedCaFile: '/etc/kubernetes/ssl/ca.pem',
      initialAdvertisePeerUrls: ['https://192.168.0.37:2380'],
      listenPeerUrls: ['https://192.168.0.37:2380'],
      listenClientUrls: ['https://192.168.0.37:2379', 'http://127.0.0.1:2379'],
      advertiseClientUrls: ['https://192.168.0.37:2379'],
      initialClusterToken: 'etcd-cluster-0',
      initialCluster: [
        { name: 'etcd-192.168.0.37', peerURLs: ['https://192.168.0.37:2380'] },
        { name: 'etcd-192.168.0.38', peerURLs: ['https://192.168.0.38:2380'] },
        { name: 'etcd-192.168.0.39', peerURLs: ['https://192.168.0.39:2380'] },
      ],
      initialClusterState: 'new',
      dataDir: '/var/lib/etcd',
    });
    expect(etcd.otherFlags['quota-backend-bytes']).toBe('8589934592');
  });

  it('reads EnvironmentFile= with its optional "-" and Environment= assignments', () => {
    const text = [
      '[Service]',
      'Environment="ETCD_NAME=master one" ETCD_UNSUPPORTED_ARCH=arm64',
      'Environment=GOMAXPROCS=4',
      'EnvironmentFile=-/etc/etcd/etcd.conf',
      'EnvironmentFile=/etc/default/etcd',
      'ExecStart=-/usr/bin/etcd',
    ].join('\n');
    const parsed = parseSystemdUnit(text, 'etcd.service');
    expect(parsed.environment).toEqual({ ETCD_NAME: 'master one', ETCD_UNSUPPORTED_ARCH: 'arm64', GOMAXPROCS: '4' });
    expect(parsed.environmentFiles).toEqual([
      { path: '/etc/etcd/etcd.conf', optional: true },
      { path: '/etc/default/etcd', optional: false },
    ]);
    expect(parsed.execStart).toEqual(['/usr/bin/etcd']);
    expect(etcdFlagsFromUnit(parsed, []).flags).toEqual({ name: 'master one' });
  });

  it('keeps quoted names with spaces, shell metacharacters and unicode as one word', () => {
    const text = `[Service]\nExecStart=/usr/bin/etcd "--name=m;rm -rf / \\"x\\"" \\\n  --initial-cluster 'm;rm -rf / "x"=https://10.0.0.1:2380,узел 2=https://10.0.0.2:2380'\n`;
    const etcd = etcdFlagsFromUnit(parseSystemdUnit(text, 'etcd.service'), []);
    expect(etcd.flags.name).toBe('m;rm -rf / "x"');
    expect(etcd.flags.initialCluster?.map((member) => member.name)).toEqual(['m;rm -rf / "x"', 'узел 2']);
  });

  it('skips comment lines inside a continued ExecStart, as systemd does', () => {
    const text = '[Service]\nExecStart=/usr/bin/etcd \\\n# --name=old \\\n  --name=new\n';
    expect(etcdFlagsFromUnit(parseSystemdUnit(text, 'u'), []).flags).toEqual({ name: 'new' });
  });

  it('ignores ExecStart outside [Service] and lets an empty ExecStart= reset it', () => {
    const text = '[Unit]\nExecStart=/bin/false\n[Service]\nExecStart=/usr/bin/etcd --name=a\nExecStart=\nExecStart=/opt/etcd/etcd --name=b\n';
    const etcd = etcdFlagsFromUnit(parseSystemdUnit(text, 'u'), []);
    expect(etcd).toEqual({ binary: '/opt/etcd/etcd', flags: { name: 'b' }, otherFlags: {} });
  });

  it('refuses a unit without ExecStart', () => {
    expect(thrownMessage(() => parseSystemdUnit('[Unit]\nDescription=etcd\n', 'etcd.service'))).toBe(
      'etcd.service: no ExecStart= in [Service]: cannot tell how etcd is started',
    );
  });

  it('names the line of an unterminated quote', () => {
    const text = '[Unit]\nDescription=etcd\n\n[Service]\nExecStart=/usr/bin/etcd \\\n  "--name=a\n';
    expect(thrownMessage(() => parseSystemdUnit(text, 'etcd.service'))).toBe(
      'etcd.service:5: ExecStart: unterminated " quote',
    );
  });
});

describe('etcdFlagsFromUnit with an environment file', () => {
  const unit = parseSystemdUnit(read('systemd-env/usr/lib/systemd/system/etcd.service'), 'etcd.service');
  const conf = parseEtcdEnvFile(read('systemd-env/etc/etcd/etcd.conf'), 'etcd.conf');

  it('finds etcd inside the packaged `bash -c` wrapper and expands ${VAR}', () => {
    const etcd = etcdFlagsFromUnit(unit, [conf]);
    expect(etcd.binary).toBe('/usr/bin/etcd');
    expect(etcd.flags.name).toBe('etcd1');
    expect(etcd.flags.dataDir).toBe('/var/lib/etcd/default.etcd');
    expect(etcd.flags.listenClientUrls).toEqual(['https://10.23.17.200:2379', 'http://127.0.0.1:2379']);
    expect(etcd.flags.initialCluster?.map((member) => member.name)).toEqual(['etcd1', 'etcd2', 'etcd3']);
  });

  it('lets ExecStart flags override the environment file, and the file override Environment=', () => {
    const text = [
      '[Service]',
      'Environment=ETCD_NAME=from-environment ETCD_DATA_DIR=/from/environment ETCD_WAL_DIR=/wal/environment',
      'EnvironmentFile=/etc/etcd/etcd.conf',
      'ExecStart=/usr/bin/etcd --name=from-flag',
    ].join('\n');
    const etcd = etcdFlagsFromUnit(parseSystemdUnit(text, 'u'), [conf]);
    expect(etcd.flags.name).toBe('from-flag');
    expect(etcd.flags.dataDir).toBe('/var/lib/etcd/default.etcd');
    expect(etcd.flags.walDir).toBe('/wal/environment');
  });

  it('splits a bare $VAR into words and keeps ${VAR} inside its word', () => {
    const text = '[Service]\nEnvironment="ETCD_OPTS=--name=a --data-dir=/d" "ETCD_X=m n"\nExecStart=/usr/bin/etcd $ETCD_OPTS --initial-cluster-token=${ETCD_X}$$\n';
    expect(etcdFlagsFromUnit(parseSystemdUnit(text, 'u'), []).flags).toEqual({
      name: 'a',
      dataDir: '/d',
      initialClusterToken: 'm n$',
    });
  });
});

describe('parseEtcdEnvFile', () => {
  it('reads the ETCD_* variables of a packaged etcd.conf', () => {
    const conf = parseEtcdEnvFile(read('systemd-env/etc/etcd/etcd.conf'), 'etcd.conf');
    expect(conf.flags).toEqual({
      name: 'etcd1',
      dataDir: '/var/lib/etcd/default.etcd',
      listenPeerUrls: ['https://10.23.17.200:2380'],
      listenClientUrls: ['https://10.23.17.200:2379', 'http://127.0.0.1:2379'],
      initialAdvertisePeerUrls: ['https://10.23.17.200:2380'],
      advertiseClientUrls: ['https://10.23.17.200:2379'],
      initialCluster: [
        { name: 'etcd1', peerURLs: ['https://10.23.17.200:2380'] },
        { name: 'etcd2', peerURLs: ['https://10.23.207.11:2380'] },
        { name: 'etcd3', peerURLs: ['https://10.23.97.19:2380'] },
      ],
      initialClusterToken: 'etcd-cluster',
      initialClusterState: 'new',
      certFile: '/etc/kubernetes/ssl/etcd.pem',
      keyFile: '/etc/kubernetes/ssl/etcd-key.pem',
      trustedCaFile: '/etc/kubernetes/ssl/ca.pem',
      peerCertFile: '/etc/kubernetes/ssl/etcd.pem',
      peerKeyFile: '/etc/kubernetes/ssl/etcd-key.pem',
      peerTrustedCaFile: '/etc/kubernetes/ssl/ca.pem',
    });
    expect(conf.variables.ETCD_CLIENT_CERT_AUTH).toBe('true');
    expect(conf.variables).not.toHaveProperty('ETCD_WAL_DIR');
    expect(conf.warnings).toEqual([]);
  });

  it('handles single quotes, comments after values, export and escaped quotes', () => {
    const text = [
      '; a comment',
      "ETCD_NAME='master one'   # this node",
      'export ETCD_DATA_DIR=/var/lib/etcd # unquoted, then a comment',
      'ETCD_INITIAL_CLUSTER_TOKEN="tok \\"q\\""',
      'ETCD_INITIAL_CLUSTER="master one=https://10.0.0.1:2380,\\',
      '主节点=https://10.0.0.2:2380"',
    ].join('\n');
    const conf = parseEtcdEnvFile(text, 'etcd.conf');
    expect(conf.flags).toEqual({
      name: 'master one',
      dataDir: '/var/lib/etcd',
      initialClusterToken: 'tok "q"',
      initialCluster: [
        { name: 'master one', peerURLs: ['https://10.0.0.1:2380'] },
        { name: '主节点', peerURLs: ['https://10.0.0.2:2380'] },
      ],
    });
  });

  it('warns about lines systemd would skip instead of failing', () => {
    const conf = parseEtcdEnvFile('ETCD_NAME=a\nthis is not an assignment\n', 'etcd.conf');
    expect(conf.flags).toEqual({ name: 'a' });
    expect(conf.warnings).toEqual(['etcd.conf:2: not NAME=value, ignored (as systemd does): this is not an assignment']);
  });

  it('names the line and variable of an unterminated quote', () => {
    expect(thrownMessage(() => parseEtcdEnvFile('ETCD_NAME=a\nETCD_DATA_DIR="/var/lib/etcd\n', 'etcd.conf'))).toBe(
      'etcd.conf:2: ETCD_DATA_DIR: unterminated " quote',
    );
  });

  it('names the line of text after a closing quote', () => {
    expect(thrownMessage(() => parseEtcdEnvFile('ETCD_NAME="a" b\n', 'etcd.conf'))).toBe(
      'etcd.conf:1: ETCD_NAME: unexpected text after the closing " quote: b',
    );
  });

  it('names the variable holding a bad initial cluster', () => {
    expect(thrownMessage(() => parseEtcdEnvFile('ETCD_INITIAL_CLUSTER="etcd1"\n', '/etc/etcd/etcd.conf'))).toBe(
      '/etc/etcd/etcd.conf: ETCD_INITIAL_CLUSTER: entry "etcd1" has no "=": expected name=https://host:2380',
    );
  });
});

describe('splitWords', () => {
  it('groups quotes and backslash escapes like systemd', () => {
    expect(splitWords(`a "b c" 'd "e"' f\\ g ""`, 'x')).toEqual(['a', 'b c', 'd "e"', 'f g', '']);
  });
});
