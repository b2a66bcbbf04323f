import { describe, expect, it } from 'vitest';
import { sortEntrants, standings } from '../src/races/standings.js';
import { formatDuration, formatGap, ordinal } from '../src/races/text.js';
import type { Entrant, RaceSnapshot, Split } from '../src/races/types.js';

function split(toMap: string, elapsedMs: number): Split {
  return { fromMap: '', toMap, ticks: null, ticksTotal: null, elapsedMs, at: new Date(0) };
}

function entrant(name: string, fields: Partial<Entrant> = {}): Entrant {
  return {
    name,
    clientId: 1,
    status: 'running',
    map: '',
    splits: [],
    finish: null,
    forfeitedAtMs: null,
    ...fields,
  };
}

const finish = (place: number, elapsedMs: number) => ({ time: '', timeMs: null, elapsedMs, place, at: new Date(0) });

describe('standings', () => {
  it('put finishers by place, runners by progress on the route then by who got there first, then forfeits and DNF', () => {
    const order = sortEntrants(
      [
        entrant('Dnf', { status: 'dnf', map: 'sp_a1_intro3' }),
        entrant('Late', { map: 'sp_a1_intro2', splits: [split('sp_a1_intro2', 9000)] }),
        entrant('Second', { status: 'finished', finish: finish(2, 70_000) }),
        entrant('Early', { map: 'sp_a1_intro2', splits: [split('sp_a1_intro2', 5000)] }),
        entrant('Quitter', { status: 'forfeited', forfeitedAtMs: 100 }),
        entrant('Ahead', { map: 'sp_a1_intro3', splits: [split('sp_a1_intro2', 8000), split('sp_a1_intro3', 20_000)] }),
        entrant('First', { status: 'finished', finish: finish(1, 60_000) }),
        entrant('Menu', { map: '' }),
      ],
      'sp',
    );
    expect(order.map((e) => e.name)).toEqual(['First', 'Second', 'Ahead', 'Early', 'Late', 'Menu', 'Quitter', 'Dnf']);
  });

  it('keep a runner who went back to the hub (or a menu) as far as the furthest map it reached', () => {
    const order = sortEntrants(
      [
        entrant('InCourse1', { map: 'mp_coop_doors', splits: [split('mp_coop_doors', 4000)] }),
        entrant('BackInHub', {
          map: 'mp_coop_lobby_3',
          splits: [split('mp_coop_doors', 3000), split('mp_coop_race_2', 9000), split('mp_coop_lobby_3', 15_000)],
        }),
      ],
      'coop',
    );
    expect(order.map((e) => e.name)).toEqual(['BackInHub', 'InCourse1']);
  });

  it('count distinct maps reached when the maps are on no known route', () => {
    const order = sortEntrants(
      [
        entrant('Loops', {
          map: 'workshop_a',
          splits: [split('workshop_a', 1), split('workshop_a', 2), split('workshop_a', 3)],
        }),
        entrant('Explorer', { map: 'workshop_c', splits: [split('workshop_b', 5), split('workshop_c', 6)] }),
      ],
      null,
    );
    expect(order.map((e) => e.name)).toEqual(['Explorer', 'Loops']);
  });

  it('give positions and gaps to the winner', () => {
    const entrants = sortEntrants(
      [
        entrant('B', { status: 'finished', finish: finish(2, 62_600) }),
        entrant('A', { status: 'finished', finish: finish(1, 60_000) }),
        entrant('C', { map: 'sp_a1_intro2' }),
      ],
      'sp',
    );
    const race = { route: 'sp', entrants } as unknown as RaceSnapshot;
    expect(standings(race).map((s) => [s.entrant.name, s.position, s.gapMs])).toEqual([
      ['A', 1, 0],
      ['B', 2, 2600],
      ['C', 3, null],
    ]);
  });

  it('write times as SAR does', () => {
    expect(formatDuration(5)).toBe('0.005');
    expect(formatDuration(12_345)).toBe('12.345');
    expect(formatDuration(62_345)).toBe('1:02.345');
    expect(formatDuration(3_723_456)).toBe('1:02:03.456');
    expect(formatGap(2600)).toBe('+2.600');
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111].map(ordinal)).toEqual([
      '1st',
      '2nd',
      '3rd',
      '4th',
      '11th',
      '12th',
      '13th',
      '21st',
      '22nd',
      '101st',
      '111th',
    ]);
  });
});
