import { describe, expect, it } from 'vitest';
import { alarmsIn } from '../../src/cluster/probe.js';

describe('alarmsIn: the alarms in a member status errors', () => {
  it('reads each alarm with the member it was raised on, the decimal ID turned into hex as etcdctl prints it', () => {
    // as etcd 3.4.23 reported them in a lab filled to its quota
    expect(alarmsIn(['memberID:17110669282777382968 alarm:NOSPACE ', 'memberID:8917917823952793705 alarm:NOSPACE '])).toEqual([
      { alarm: 'NOSPACE', memberId: 'ed754f0e75224038' },
      { alarm: 'NOSPACE', memberId: '7bc2cf0300d4b069' },
    ]);
  });

  it('keeps an alarm whose member is not given, and ignores errors that are not alarms', () => {
    expect(alarmsIn(['alarm:CORRUPT', 'etcdserver: no leader', 'slow fdatasync'])).toEqual([{ alarm: 'CORRUPT', memberId: undefined }]);
  });
});
