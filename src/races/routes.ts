/**
 * Portal 2's map orders, as data: which campaign a map belongs to and how far along it is.
 *
 * Race standings use the index of a runner's map in its route (`routeIndex`), race pages show a
 * map's chapter and title (`mapInfo`), and a race's route is guessed from the maps its entrants
 * load (`routeOf`). Map names are the game's own file names (what SAR sends in MAP_CHANGE);
 * chapter, course and chamber titles are the names the game and the speedrunning community give
 * them.
 */
import type { RouteId } from './types.js';

export interface MapInfo {
  /** The map's file name, as SAR reports it ("sp_a2_laser_intro"). */
  map: string;
  /** Single player: the chapter (1–9). Co-op: the course (1–6), 0 for calibration and the hub. */
  chapter: number;
  /** The chapter's or the course's title. */
  chapterTitle: string;
  /** The test chamber's or the area's title. */
  title: string;
}

type Chapter = readonly [
  chapter: number,
  chapterTitle: string,
  maps: ReadonlyArray<readonly [map: string, title: string]>,
];

function flatten(chapters: readonly Chapter[]): readonly MapInfo[] {
  return Object.freeze(
    chapters.flatMap(([chapter, chapterTitle, maps]) =>
      maps.map(([map, title]) => Object.freeze({ map, chapter, chapterTitle, title })),
    ),
  );
}

/**
 * The single-player campaign in the order a run loads it, from the relaxation vault to the
 * final fight. A run ends in sp_a4_finale4 (the credits map that follows is not raced).
 */
const SP = flatten([
  [
    1,
    'The Courtesy Call',
    [
      ['sp_a1_intro1', 'Container Ride'],
      ['sp_a1_intro2', 'Portal Carousel'],
      ['sp_a1_intro3', 'Portal Gun'],
      ['sp_a1_intro4', 'Smooth Jazz'],
      ['sp_a1_intro5', 'Cube Momentum'],
      ['sp_a1_intro6', 'Future Starter'],
      ['sp_a1_intro7', 'Secret Panel'],
      ['sp_a1_wakeup', 'Wakeup'],
      ['sp_a2_intro', 'Incinerator'],
    ],
  ],
  [
    2,
    'The Cold Boot',
    [
      ['sp_a2_laser_intro', 'Laser Intro'],
      ['sp_a2_laser_stairs', 'Laser Stairs'],
      ['sp_a2_dual_lasers', 'Dual Lasers'],
      ['sp_a2_laser_over_goo', 'Laser Over Goo'],
      ['sp_a2_catapult_intro', 'Catapult Intro'],
      ['sp_a2_trust_fling', 'Trust Fling'],
      ['sp_a2_pit_flings', 'Pit Flings'],
      ['sp_a2_fizzler_intro', 'Fizzler Intro'],
    ],
  ],
  [
    3,
    'The Return',
    [
      ['sp_a2_sphere_peek', 'Ceiling Catapult'],
      ['sp_a2_ricochet', 'Ricochet'],
      ['sp_a2_bridge_intro', 'Bridge Intro'],
      ['sp_a2_bridge_the_gap', 'Bridge the Gap'],
      ['sp_a2_turret_intro', 'Turret Intro'],
      ['sp_a2_laser_relays', 'Laser Relays'],
      ['sp_a2_turret_blocker', 'Turret Blocker'],
      ['sp_a2_laser_vs_turret', 'Laser vs Turret'],
      ['sp_a2_pull_the_rug', 'Pull the Rug'],
    ],
  ],
  [
    4,
    'The Surprise',
    [
      ['sp_a2_column_blocker', 'Column Blocker'],
      ['sp_a2_laser_chaining', 'Laser Chaining'],
      ['sp_a2_triple_laser', 'Triple Laser'],
      ['sp_a2_bts1', 'Jailbreak'],
      ['sp_a2_bts2', 'Escape'],
    ],
  ],
  [
    5,
    'The Escape',
    [
      ['sp_a2_bts3', 'Turret Factory'],
      ['sp_a2_bts4', 'Turret Sabotage'],
      ['sp_a2_bts5', 'Neurotoxin Sabotage'],
      ['sp_a2_bts6', 'Tube Ride'],
      ['sp_a2_core', 'Core'],
    ],
  ],
  [
    6,
    'The Fall',
    [
      ['sp_a3_00', 'Long Fall'],
      ['sp_a3_01', 'Underground'],
      ['sp_a3_03', 'Cave Johnson'],
      ['sp_a3_jump_intro', 'Repulsion Intro'],
      ['sp_a3_bomb_flings', 'Bomb Flings'],
      ['sp_a3_crazy_box', 'Crazy Box'],
      ['sp_a3_transition01', 'PotatOS'],
    ],
  ],
  [
    7,
    'The Reunion',
    [
      ['sp_a3_speed_ramp', 'Propulsion Intro'],
      ['sp_a3_speed_flings', 'Propulsion Flings'],
      ['sp_a3_portal_intro', 'Conversion Intro'],
      ['sp_a3_end', 'Three Gels'],
    ],
  ],
  [
    8,
    'The Itch',
    [
      ['sp_a4_intro', 'Test'],
      ['sp_a4_tb_intro', 'Funnel Intro'],
      ['sp_a4_tb_trust_drop', 'Ceiling Button'],
      ['sp_a4_tb_wall_button', 'Wall Button'],
      ['sp_a4_tb_polarity', 'Polarity'],
      ['sp_a4_tb_catch', 'Funnel Catch'],
      ['sp_a4_stop_the_box', 'Stop the Box'],
      ['sp_a4_laser_catapult', 'Laser Catapult'],
      ['sp_a4_laser_platform', 'Laser Platform'],
      ['sp_a4_speed_tb_catch', 'Propulsion Catch'],
      ['sp_a4_jump_polarity', 'Repulsion Polarity'],
    ],
  ],
  [
    9,
    'The Part Where He Kills You',
    [
      ['sp_a4_finale1', 'Finale 1'],
      ['sp_a4_finale2', 'Finale 2'],
      ['sp_a4_finale3', 'Finale 3'],
      ['sp_a4_finale4', 'Finale 4'],
    ],
  ],
]);

/**
 * The cooperative campaign as a full run meets it: calibration, then the hub (the current game's
 * hub, mp_coop_lobby_3; runners come back to it between courses), courses 1 to 5, the ending
 * that follows course 5's vault, and course 6 (the Peer Review course, reached from the hub).
 */
const COOP = flatten([
  [
    0,
    'Calibration',
    [
      ['mp_coop_start', 'Calibration Course'],
      ['mp_coop_lobby_3', 'Hub'],
    ],
  ],
  [
    1,
    'Team Building',
    [
      ['mp_coop_doors', 'Doors'],
      ['mp_coop_race_2', 'Buttons'],
      ['mp_coop_laser_2', 'Lasers'],
      ['mp_coop_rat_maze', 'Rat Maze'],
      ['mp_coop_laser_crusher', 'Laser Crusher'],
      ['mp_coop_teambts', 'Behind the Scenes'],
    ],
  ],
  [
    2,
    'Mass and Velocity',
    [
      ['mp_coop_fling_3', 'Flings'],
      ['mp_coop_infinifling_train', 'Infinifling'],
      ['mp_coop_come_along', 'Team Retrieval'],
      ['mp_coop_fling_1', 'Vertical Flings'],
      ['mp_coop_catapult_1', 'Catapults'],
      ['mp_coop_multifling_1', 'Multifling'],
      ['mp_coop_fling_crushers', 'Fling Crushers'],
      ['mp_coop_fan', 'Industrial Fan'],
    ],
  ],
  [
    3,
    'Hard-Light Surfaces',
    [
      ['mp_coop_wall_intro', 'Cooperative Bridges'],
      ['mp_coop_wall_2', 'Bridge Swap'],
      ['mp_coop_catapult_wall_intro', 'Fling Block'],
      ['mp_coop_wall_block', 'Catapult Block'],
      ['mp_coop_catapult_2', 'Bridge Fling'],
      ['mp_coop_turret_walls', 'Turret Walls'],
      ['mp_coop_turret_ball', 'Turret Assassin'],
      ['mp_coop_wall_5', 'Bridge Testing'],
    ],
  ],
  [
    4,
    'Excursion Funnels',
    [
      ['mp_coop_tbeam_redirect', 'Cooperative Funnels'],
      ['mp_coop_tbeam_drill', 'Funnel Drill'],
      ['mp_coop_tbeam_catch_grind_1', 'Funnel Catch'],
      ['mp_coop_tbeam_laser_1', 'Funnel Laser'],
      ['mp_coop_tbeam_polarity', 'Cooperative Polarity'],
      ['mp_coop_tbeam_polarity2', 'Funnel Hop'],
      ['mp_coop_tbeam_polarity3', 'Advanced Polarity'],
      ['mp_coop_tbeam_maze', 'Funnel Maze'],
      ['mp_coop_tbeam_end', 'Turret Warehouse'],
    ],
  ],
  [
    5,
    'Mobility Gels',
    [
      ['mp_coop_paint_come_along', 'Repulsion Jumps'],
      ['mp_coop_paint_redirect', 'Double Bounce'],
      ['mp_coop_paint_bridge', 'Bridge Repulsion'],
      ['mp_coop_paint_walljumps', 'Wall Repulsion'],
      ['mp_coop_paint_speed_fling', 'Propulsion Crushers'],
      ['mp_coop_paint_red_racer', 'Turret Ninja'],
      ['mp_coop_paint_speed_catch', 'Propulsion Retrieval'],
      ['mp_coop_paint_longjump_intro', 'Vault Entrance'],
      ['mp_coop_credits', 'Credits'],
    ],
  ],
  [
    6,
    'Art Therapy',
    [
      ['mp_coop_separation_1', 'Separation'],
      ['mp_coop_tripleaxis', 'Triple Axis'],
      ['mp_coop_catapult_catch', 'Catapult Catch'],
      ['mp_coop_2paints_1bridge', 'Bridge Gels'],
      ['mp_coop_paint_conversion', 'Maintenance'],
      ['mp_coop_bridge_catch', 'Bridge Catch'],
      ['mp_coop_laser_tbeam', 'Double Lift'],
      ['mp_coop_paint_rat_maze', 'Gel Maze'],
      ['mp_coop_paint_crazy_box', 'Crazier Box'],
    ],
  ],
]);

export const ROUTES: Record<RouteId, { name: string; maps: readonly MapInfo[] }> = {
  sp: { name: 'Single player', maps: SP },
  coop: { name: 'Cooperative', maps: COOP },
};

const INDEX = new Map<string, { route: RouteId; index: number; info: MapInfo }>();
for (const [route, { maps }] of Object.entries(ROUTES) as Array<[RouteId, { maps: readonly MapInfo[] }]>)
  maps.forEach((info, index) => {
    if (INDEX.has(info.map)) throw new Error(`routes: ${info.map} is listed twice`);
    INDEX.set(info.map, { route, index, info });
  });

/** The game's file names are not case-sensitive on Windows: `map SP_A1_INTRO1` loads the same map. */
const lookup = (map: string) => INDEX.get(map.toLowerCase());

/** Which shipped route has this map (null: not on either). */
export function routeOf(map: string): RouteId | null {
  return lookup(map)?.route ?? null;
}

/** The map's position in `route` (0 = the first map), or -1 if it is not on that route. */
export function routeIndex(route: RouteId, map: string): number {
  const entry = lookup(map);
  return entry !== undefined && entry.route === route ? entry.index : -1;
}

/** The map's chapter and title, for pages ("Chapter 2: The Cold Boot — Laser Intro"). */
export function mapInfo(map: string): MapInfo | undefined {
  return lookup(map)?.info;
}
