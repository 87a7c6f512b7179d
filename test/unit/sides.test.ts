import { describe, expect, it } from 'vitest';
import { chooseSide, findSide, sideEvidence, sideReasonFor, splitSides } from '../../src/cluster/sides.js';
import { classify } from '../../src/cluster/verdict.js';
import { IDS, fakeCluster } from '../helpers/probes.js';

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';
const C = 'cccccccccccccccc';

/** Three members: each index's cluster ID, revision and the leader it reports. */
function probes(sides: Array<{ clusterId: string; revision: number; leader: number }>) {
  const c = fakeCluster({ voting: sides.length });
  return sides.map((s, i) => c.up(i, { clusterId: s.clusterId, revision: s.revision, leaderId: IDS[s.leader], dbSize: 1000 * (i + 1) }));
}

describe('splitSides', () => {
  it('groups a 2+1 split by cluster ID with members, revision, DB size and leader', () => {
    const sides = splitSides(probes([
      { clusterId: A, revision: 10, leader: 0 },
      { clusterId: A, revision: 12, leader: 0 },
      { clusterId: B, revision: 900, leader: 2 },
    ]));
    expect(sides).toEqual([
      { clusterId: A, members: ['master-1', 'master-2'], revision: 12, dbSize: 2000, leader: 'master-1', source: 'master-2' },
      { clusterId: B, members: ['master-3'], revision: 900, dbSize: 3000, leader: 'master-3', source: 'master-3' },
    ]);
    expect(sideEvidence(sides[0]!, 3)).toBe(`side ${A}: master-1, master-2 (2 of 3 members), revision 12, DB size 2.0 kB, leader master-1`);
  });

  it('leaves out endpoints that did not answer', () => {
    const c = fakeCluster({ voting: 3 });
    const sides = splitSides([c.up(0, { clusterId: A }), c.down(1), c.up(2, { clusterId: B })]);
    expect(sides.map((s) => s.members)).toEqual([['master-1'], ['master-3']]);
  });
});

describe('chooseSide', () => {
  it('2+1: picks the side with the most members even though the lone member has the higher revision', () => {
    const sides = splitSides(probes([
      { clusterId: A, revision: 10, leader: 0 },
      { clusterId: A, revision: 12, leader: 0 },
      { clusterId: B, revision: 900, leader: 2 },
    ]));
    const choice = chooseSide(sides, 3);
    expect(choice?.side.clusterId).toBe(A);
    expect(choice?.side.source).toBe('master-2');
    expect(choice?.reason).toBe(`side ${A}: master-1, master-2 (2 of 3 members); chosen because it holds the most members`);
  });

  it('1+1+1: every side ties on members, the higher revision wins', () => {
    const sides = splitSides(probes([
      { clusterId: A, revision: 10, leader: 0 },
      { clusterId: B, revision: 300, leader: 1 },
      { clusterId: C, revision: 20, leader: 2 },
    ]));
    const choice = chooseSide(sides, 3);
    expect(choice?.side.source).toBe('master-2');
    expect(choice?.reason).toBe(`side ${B}: master-2 (1 of 3 members); chosen because it ties on members (1) and has the higher revision (300 > 20)`);
  });

  it('a full tie (members and revision) keeps the first side seen and says so', () => {
    const sides = splitSides(probes([
      { clusterId: A, revision: 50, leader: 0 },
      { clusterId: B, revision: 50, leader: 1 },
    ]));
    const choice = chooseSide(sides, 2);
    expect(choice?.side.clusterId).toBe(A);
    expect(choice?.reason).toBe(`side ${A}: master-1 (1 of 2 members); chosen because it ties on members (1) and revision (50) and was seen first`);
  });

  it('names the operator\'s choice when it is not the default', () => {
    const sides = splitSides(probes([
      { clusterId: A, revision: 10, leader: 0 },
      { clusterId: A, revision: 12, leader: 0 },
      { clusterId: B, revision: 900, leader: 2 },
    ]));
    expect(findSide(sides, B)?.source).toBe('master-3');
    expect(sideReasonFor(sides, 'master-3', 3)).toBe(`side ${B}: master-3 (1 of 3 members); chosen by the operator (the default was ${A})`);
    expect(sideReasonFor(sides, 'master-9', 3)).toBeUndefined();
  });
});

describe('classify: split brain lists the sides', () => {
  it('puts one evidence line per side and the sides on the verdict', () => {
    const v = classify(probes([
      { clusterId: A, revision: 10, leader: 0 },
      { clusterId: A, revision: 12, leader: 0 },
      { clusterId: B, revision: 900, leader: 2 },
    ]));
    expect(v.verdict).toBe('split-brain');
    expect(v.sides?.map((s) => s.clusterId)).toEqual([A, B]);
    expect(v.evidence).toContain(`side ${B}: master-3 (1 of 3 members), revision 900, DB size 3.0 kB, leader master-3`);
  });
});
