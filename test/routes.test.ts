/**
 * Portal 2's map orders (src/races/routes.ts): complete, in order, each map once, and the
 * look-ups that race standings and pages use.
 */
import { describe, expect, it } from 'vitest';
import { mapInfo, routeIndex, routeOf, ROUTES, type MapInfo } from '../src/races/routes.js';

const sp = ROUTES.sp.maps;
const coop = ROUTES.coop.maps;
const names = (maps: readonly MapInfo[]) => maps.map((info) => info.map);

describe('routes', () => {
  it('lists every map name once across both campaigns', () => {
    const all = [...names(sp), ...names(coop)];
    expect(new Set(all).size).toBe(all.length);
    for (const info of [...sp, ...coop]) {
      expect(info.map).toMatch(/^(sp|mp_coop)_[a-z0-9_]+$/);
      expect(info.title.trim()).not.toBe('');
      expect(info.chapterTitle.trim()).not.toBe('');
    }
  });

  it('plays the single-player campaign from sp_a1_intro1 to sp_a4_finale4 through chapters 1 to 9 in order', () => {
    expect(sp[0]!.map).toBe('sp_a1_intro1');
    expect(sp.at(-1)!.map).toBe('sp_a4_finale4');
    expect(sp).toHaveLength(62);
    expect(names(sp).every((map) => map.startsWith('sp_a'))).toBe(true);
    // Chapters never go back, have one title each, and run 1..9 without a gap.
    const titles = new Map<number, string>();
    for (let i = 0; i < sp.length; i++) {
      const info = sp[i]!;
      if (i > 0) expect(info.chapter - sp[i - 1]!.chapter).toBeGreaterThanOrEqual(0);
      if (i > 0) expect(info.chapter - sp[i - 1]!.chapter).toBeLessThanOrEqual(1);
      expect(titles.get(info.chapter) ?? info.chapterTitle).toBe(info.chapterTitle);
      titles.set(info.chapter, info.chapterTitle);
    }
    expect([...titles.keys()]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(titles.get(1)).toBe('The Courtesy Call');
    expect(titles.get(9)).toBe('The Part Where He Kills You');
    // Where the chapters turn, as the game's chapter select has them.
    const firstOf = (chapter: number) => sp.find((info) => info.chapter === chapter)!.map;
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map(firstOf)).toEqual([
      'sp_a1_intro1',
      'sp_a2_laser_intro',
      'sp_a2_sphere_peek',
      'sp_a2_column_blocker',
      'sp_a2_bts3',
      'sp_a3_00',
      'sp_a3_speed_ramp',
      'sp_a4_intro',
      'sp_a4_finale1',
    ]);
  });

  it('plays co-op from calibration through the hub and courses 1 to 6 in order', () => {
    expect(names(coop).slice(0, 2)).toEqual(['mp_coop_start', 'mp_coop_lobby_3']);
    expect(names(coop).every((map) => map.startsWith('mp_coop_'))).toBe(true);
    const courses = new Map<number, string[]>();
    let previous = 0;
    for (const info of coop) {
      expect(info.chapter).toBeGreaterThanOrEqual(previous);
      previous = info.chapter;
      courses.set(info.chapter, [...(courses.get(info.chapter) ?? []), info.map]);
    }
    expect([...courses.keys()]).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(courses.get(1)).toEqual([
      'mp_coop_doors',
      'mp_coop_race_2',
      'mp_coop_laser_2',
      'mp_coop_rat_maze',
      'mp_coop_laser_crusher',
      'mp_coop_teambts',
    ]);
    expect(courses.get(2)).toHaveLength(8);
    expect(courses.get(3)).toHaveLength(8);
    expect(courses.get(4)).toHaveLength(9);
    expect(courses.get(5)!.slice(-2)).toEqual(['mp_coop_paint_longjump_intro', 'mp_coop_credits']);
    expect(courses.get(6)!.at(0)).toBe('mp_coop_separation_1');
    expect(coop.at(-1)!.map).toBe('mp_coop_paint_crazy_box');
    expect(mapInfo('mp_coop_tbeam_end')).toMatchObject({ chapter: 4, chapterTitle: 'Excursion Funnels' });
  });

  it('answers which route a map is on, where, and what it is called', () => {
    expect(routeOf('sp_a1_intro1')).toBe('sp');
    expect(routeOf('sp_a4_finale4')).toBe('sp');
    expect(routeOf('mp_coop_start')).toBe('coop');
    expect(routeOf('mp_coop_paint_crazy_box')).toBe('coop');
    expect(routeIndex('sp', 'sp_a1_intro1')).toBe(0);
    expect(routeIndex('sp', 'sp_a2_laser_intro')).toBe(9);
    expect(routeIndex('sp', 'sp_a4_finale4')).toBe(sp.length - 1);
    expect(routeIndex('coop', 'mp_coop_lobby_3')).toBe(1);
    // Every map's index is its position in its own route, and -1 on the other.
    sp.forEach((info, index) => {
      expect(routeIndex('sp', info.map)).toBe(index);
      expect(routeIndex('coop', info.map)).toBe(-1);
      expect(mapInfo(info.map)).toBe(info);
    });
    coop.forEach((info, index) => {
      expect(routeIndex('coop', info.map)).toBe(index);
      expect(routeIndex('sp', info.map)).toBe(-1);
    });
    expect(mapInfo('sp_a2_laser_intro')).toEqual({
      map: 'sp_a2_laser_intro',
      chapter: 2,
      chapterTitle: 'The Cold Boot',
      title: 'Laser Intro',
    });
    // The game loads a map typed in capitals as the same map.
    expect(routeOf('SP_A2_LASER_INTRO')).toBe('sp');
    expect(routeIndex('sp', 'Sp_A2_Laser_Intro')).toBe(9);
  });

  it('gives null, -1 and undefined for maps on neither route', () => {
    for (const map of [
      '',
      'sp_a2_bench',
      'sp_a5_credits',
      'mp_coop_community_hub',
      'workshop/123/my_map',
      '__proto__',
    ]) {
      expect(routeOf(map)).toBeNull();
      expect(routeIndex('sp', map)).toBe(-1);
      expect(routeIndex('coop', map)).toBe(-1);
      expect(mapInfo(map)).toBeUndefined();
    }
  });

  it('cannot be changed by whoever reads it', () => {
    expect(Object.isFrozen(sp)).toBe(true);
    expect(Object.isFrozen(sp[0])).toBe(true);
    expect(() => ((sp[0] as { map: string }).map = 'x')).toThrow();
  });
});
