import { describe, expect, it } from 'vitest';
import { parseSshConfig, resolveSshConfig } from '../../src/transport/sshConfig.js';

const CONFIG = `
# global defaults come first only if written first
IdentityFile ~/.ssh/id_global

Host etcd-*  !etcd-bastion
    HostName %h.internal.example
    User core
    Port 2222
    IdentityFile ~/.ssh/id_%r_etcd

Host etcd-1
    # first value obtained wins: etcd-* already set these
    User admin
    HostName 10.0.0.1
    IdentityFile "/keys/with space"

Host=etcd-bastion
  User=jump
  Port = 22

Match host etcd-2
    User matched

Host *
    User fallback
    Port 22
`;

const blocks = parseSshConfig(CONFIG);
const context = { home: '/home/op', localUser: 'op' };

describe('~/.ssh/config basics', () => {
  it('applies Host patterns in order, first value wins, IdentityFile accumulates', () => {
    expect(resolveSshConfig(blocks, 'etcd-1', context)).toEqual({
      hostName: 'etcd-1.internal.example',
      user: 'core',
      port: 2222,
      identityFiles: ['/home/op/.ssh/id_global', '/home/op/.ssh/id_core_etcd', '/keys/with space'],
      ignored: ['Match'],
    });
  });

  it('honours negated patterns and the Key=value form', () => {
    expect(resolveSshConfig(blocks, 'etcd-bastion', context)).toMatchObject({ user: 'jump', port: 22, identityFiles: ['/home/op/.ssh/id_global'] });
    expect(resolveSshConfig(blocks, 'etcd-bastion', context).hostName).toBeUndefined();
  });

  it('skips Match blocks instead of guessing, and falls through to Host *', () => {
    expect(resolveSshConfig(blocks, 'etcd-2', context)).toMatchObject({ user: 'core', port: 2222 });
    expect(resolveSshConfig(blocks, 'db.example', context)).toEqual({ user: 'fallback', port: 22, identityFiles: ['/home/op/.ssh/id_global'], ignored: ['Match'] });
  });

  it('is empty for an empty config', () => {
    expect(resolveSshConfig(parseSshConfig(''), 'x', context)).toEqual({ identityFiles: [], ignored: [] });
  });

  it('ignores a malformed port rather than connecting somewhere odd', () => {
    expect(resolveSshConfig(parseSshConfig('Host x\n Port 99999\n'), 'x', context).port).toBeUndefined();
  });
});
