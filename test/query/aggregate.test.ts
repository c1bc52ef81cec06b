/**
 * Aggregates compiled from plans (SPEC G-2, G-3): every function and time bucket on a small model with known
 * data (expected values computed here in JS), empty sets, group ordering and limit, related group keys, nested
 * aggregates as one statement, search, tenant isolation (SPEC A-4) and bad inputs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import { LatticeError } from '../../src/errors.js';
import { loadModelDocument } from '../../src/model/load.js';
import type { AggregateField, AggregateFn, AggregateNode, AggregateOrderItem, Filter, GroupKey, RootNode, TimeBucket } from '../../src/query/plan.js';
import { compileRead } from '../../src/query/sql/compile.js';
import { createProject, createTestDb, insertRows, testPrincipal, TEST_KINDS, type TestDb } from '../support/db.js';
import { asc, cmp, cols, runPlan, uid } from './support.js';

const model = loadModelDocument({
  name: 'agg',
  entities: {
    team: { fields: { name: { type: 'string', required: true }, tier: { type: 'enum', values: ['gold', 'silver', 'bronze'] } } },
    player: {
      fields: {
        team: { type: 'ref', to: 'team' },
        name: { type: 'string', required: true, searchable: true },
        level: { type: 'enum', values: ['low', 'mid', 'high'] },
        score: { type: 'int' },
        points: { type: 'bigint' },
        rating: { type: 'float' },
        price: { type: 'decimal' },
        active: { type: 'boolean' },
        born: { type: 'date' },
        seen_at: { type: 'datetime' },
        tag: { type: 'uuid' },
        info: { type: 'json' },
      },
    },
    game: { fields: { player: { type: 'ref', to: 'player', required: true }, kills: { type: 'int' } } },
  },
});

interface Player {
  id: string;
  team: string | null;
  name: string;
  level: string | null;
  score: number | null;
  points: number | null;
  rating: number | null;
  price: string | null;
  active: boolean | null;
  born: string | null;
  seen_at: string | null;
  tag: string | null;
}

const TEAM = { red: uid(1), blue: uid(2), green: uid(3), redB: uid(9) };
const TEAMS_A: Record<string, { name: string; tier: string | null }> = {
  [TEAM.red]: { name: 'red', tier: 'gold' },
  [TEAM.blue]: { name: 'blue', tier: 'silver' },
  [TEAM.green]: { name: 'green', tier: null },
};
const [U1, U2, U3, U4] = [uid(71), uid(72), uid(73), uid(74)];
const p = (n: number, team: string | null, name: string, level: string | null, score: number | null, points: number | null, rating: number | null, price: string | null, active: boolean | null, born: string | null, seen_at: string | null, tag: string | null): Player =>
  ({ id: uid(100 + n), team, name, level, score, points, rating, price, active, born, seen_at, tag });

// Project A. Mar 10 2024 is a Sunday (its ISO week starts Mar 4), Mar 11 a Monday.
const PLAYERS_A: Player[] = [
  p(1, TEAM.red, 'ann', 'high', 10, 5000000000, 1.5, '10.25', true, '2024-01-01', '2024-03-04T10:15:30.123Z', U1),
  p(2, TEAM.red, 'bob', 'low', 7, 3, 2.25, '3.10', false, '2024-01-07', '2024-03-04T10:15:59.001Z', U1),
  p(3, TEAM.red, 'cat', 'mid', null, null, null, null, null, null, null, null),
  p(4, TEAM.blue, 'dan', 'high', 3, -8, 0.5, '0.05', true, '2024-01-08', '2024-03-04T11:00:00.000Z', U2),
  p(5, TEAM.blue, 'eve', 'low', 4, 10, 4, '1.00', true, '2024-02-29', '2024-03-10T23:59:59.999Z', U2),
  p(6, TEAM.blue, 'fay', null, 1, 7, 3.5, '2.50', false, '2024-03-01', '2024-03-11T00:00:00.000Z', U1),
  p(7, TEAM.green, 'gus', 'mid', 5, 1, 1, '4.40', null, '2023-12-31', '2024-04-01T00:00:00.000Z', null),
  p(8, null, 'hal', 'high', 2, 2, 2, '0.70', true, '2024-01-01', '2024-02-29T12:00:00.500Z', U3),
];
// Project B: same team name, same key values, a tag A does not have.
const PLAYERS_B: Player[] = [
  p(9, TEAM.redB, 'ivy', 'high', 100, 1000, 9, '99.99', true, '2024-01-01', '2024-03-04T10:15:30.123Z', U1),
  p(10, TEAM.redB, 'jon', 'low', 200, 2000, 8, '88.88', false, '2024-01-02', '2024-03-05T10:00:00.000Z', U4),
];
const GAMES_A = [
  { id: uid(201), player_id: uid(101), kills: 3 },
  { id: uid(202), player_id: uid(101), kills: 5 },
  { id: uid(203), player_id: uid(102), kills: 1 },
  { id: uid(204), player_id: uid(104), kills: 7 },
  { id: uid(205), player_id: uid(108), kills: 2 },
];

// ---- plan builders ----
const count: AggregateField = { responseKey: 'count', kind: 'count' };
const key = (...names: string[]): AggregateField => ({ responseKey: 'key', kind: 'key', fields: names.map((n) => ({ responseKey: n, kind: 'group', name: n })) });
const fn = (f: AggregateFn, ...columns: string[]): AggregateField => ({ responseKey: f, kind: 'fn', fn: f, fields: columns.map((c) => ({ responseKey: c, kind: 'column', column: c })) });
const gk = (name: string, column: string, path: string[] = [], bucket?: TimeBucket): GroupKey => ({ name, column, path, ...(bucket ? { bucket } : {}) });
const by = (target: AggregateOrderItem['target'], direction: 'ASC' | 'DESC' = 'ASC'): AggregateOrderItem => ({ target, direction, nulls: direction === 'ASC' ? 'LAST' : 'FIRST' });
function agg(entity: string, fields: AggregateField[], args: { filter?: Filter; search?: string; groupBy?: GroupKey[]; orderBy?: AggregateOrderItem[]; limit?: number } = {}): AggregateNode {
  return { kind: 'aggregate', entity, fields, args: { groupBy: [], orderBy: [], ...args } };
}

// ---- expected values in JS ----
const present = <T>(xs: (T | null)[]): T[] => xs.filter((x): x is T => x !== null);
const micros = (iso: string): number => Date.parse(iso) * 1000;
/** ISO-8601 UTC with microseconds, as Lattice outputs datetimes. */
function isoMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  return `${new Date(ms).toISOString().slice(0, 23)}${String(us - ms * 1000).padStart(3, '0')}Z`;
}
const DAY = 86_400_000;
/** `date_trunc(bucket, t)` in UTC, weeks from Monday; ms since the epoch. */
function truncMs(ms: number, bucket: TimeBucket): number {
  const unit = { minute: 60_000, hour: 3_600_000, day: DAY }[bucket as 'minute'];
  if (unit) return Math.floor(ms / unit) * unit;
  const d = new Date(Math.floor(ms / DAY) * DAY);
  if (bucket === 'month') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  return d.getTime() - ((d.getUTCDay() + 6) % 7) * DAY;
}
/** Groups of `rows` by `keyOf`, as [key, rows] sorted ascending (nulls last) by `rank` of the key. */
function groups<R, K>(rows: R[], keyOf: (r: R) => K | null, rank: (k: K) => string | number = (k) => k as unknown as string): Array<[K | null, R[]]> {
  const m = new Map<K | null, R[]>();
  for (const r of rows) {
    const k = keyOf(r);
    m.set(k, [...(m.get(k) ?? []), r]);
  }
  return [...m.entries()].sort(([a], [b]) => (a === null ? 1 : b === null ? -1 : rank(a) < rank(b) ? -1 : rank(a) > rank(b) ? 1 : 0));
}
const LEVELS = ['low', 'mid', 'high'];

describe.each(TEST_KINDS)('aggregates on %s', (kind) => {
  let t: TestDb;
  let A: string;
  let B: string;
  let viewerA: Principal;
  let viewerB: Principal;
  let admin: Principal;
  const run = (principal: Principal, roots: Array<[string, RootNode]>) => runPlan(t.db, model, principal, roots);
  const one = async (node: RootNode, principal: Principal = viewerA) => (await run(principal, [['a', node]])).data.a as Array<Record<string, any>>;

  beforeAll(async () => {
    t = await createTestDb(kind, model);
    A = await createProject(t.db, 'A');
    B = await createProject(t.db, 'B');
    viewerA = testPrincipal('viewer', [A]);
    viewerB = testPrincipal('viewer', [B]);
    admin = testPrincipal('admin');
    await insertRows(t.db, 'team', [
      ...Object.entries(TEAMS_A).map(([id, v]) => ({ id, project_id: A, ...v })),
      { id: TEAM.redB, project_id: B, name: 'red', tier: 'gold' },
    ]);
    const row = (project: string) => ({ team, ...rest }: Player) => ({ ...rest, project_id: project, team_id: team, info: { n: 1 } });
    await insertRows(t.db, 'player', [...PLAYERS_A.map(row(A)), ...PLAYERS_B.map(row(B))]);
    await insertRows(t.db, 'game', [...GAMES_A.map((g) => ({ ...g, project_id: A })), { id: uid(209), project_id: B, player_id: uid(109), kills: 50 }]);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('computes count, sum, avg, min, max and count_distinct of every eligible type over all rows', async () => {
    const [g] = await one(
      agg('player', [
        count,
        fn('sum', 'score', 'points', 'rating', 'price'),
        fn('avg', 'score', 'points', 'rating', 'price', 'seen_at'),
        fn('min', 'score', 'points', 'rating', 'price', 'seen_at', 'born', 'name', 'level'),
        fn('max', 'score', 'points', 'rating', 'price', 'seen_at', 'born', 'name', 'level'),
        fn('count_distinct', 'level', 'tag', 'active', 'team_id', 'born', 'name'),
      ]),
    );
    const P = PLAYERS_A;
    const scores = present(P.map((x) => x.score));
    const points = present(P.map((x) => x.points));
    const ratings = present(P.map((x) => x.rating));
    const cents = present(P.map((x) => x.price)).map((s) => Math.round(Number(s) * 100));
    const seen = present(P.map((x) => x.seen_at)).map(micros);
    const born = present(P.map((x) => x.born)).sort();
    const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
    const distinct = (xs: unknown[]) => new Set(present(xs)).size;
    expect(g.count).toBe(8);
    expect(g.sum).toEqual({ score: sum(scores), points: String(sum(points)), rating: sum(ratings), price: (sum(cents) / 100).toFixed(2) });
    expect(g.sum).toEqual({ score: 32, points: '5000000015', rating: 14.75, price: '22.00' }); // the same, by hand
    expect(g.avg.score).toBeCloseTo(sum(scores) / scores.length, 12);
    expect(g.avg.points).toBeCloseTo(sum(points) / points.length, 5);
    expect(g.avg.rating).toBeCloseTo(sum(ratings) / ratings.length, 12);
    expect(typeof g.avg.price).toBe('string');
    expect(Number(g.avg.price)).toBeCloseTo(sum(cents) / cents.length / 100, 12);
    expect(g.avg.seen_at).toBe(isoMicros(Math.round(sum(seen) / seen.length)));
    expect(g.min).toEqual({ score: 1, points: -8, rating: 0.5, price: '0.05', seen_at: isoMicros(Math.min(...seen)), born: born[0], name: 'ann', level: 'low' });
    expect(g.max).toEqual({ score: 10, points: 5000000000, rating: 4, price: '10.25', seen_at: '2024-04-01T00:00:00.000000Z', born: born.at(-1), name: 'hal', level: 'high' });
    expect(g.count_distinct).toEqual({
      level: distinct(P.map((x) => x.level)),
      tag: 3,
      active: 2,
      team_id: 3,
      born: distinct(P.map((x) => x.born)),
      name: 8,
    });
  });

  it('answers one group over an empty set without group_by, and no groups with it', async () => {
    const none = cmp('name', 'eq', 'nobody');
    const fields = [count, key('level'), fn('sum', 'score', 'price'), fn('avg', 'seen_at'), fn('max', 'level'), fn('count_distinct', 'tag')];
    expect(await one(agg('player', fields, { filter: none }))).toEqual([
      { count: 0, key: { level: null }, sum: { score: null, price: null }, avg: { seen_at: null }, max: { level: null }, count_distinct: { tag: 0 } },
    ]);
    expect(await one(agg('player', fields, { filter: none, groupBy: [gk('level', 'level')] }))).toEqual([]);
    expect(await one(agg('player', [count], { limit: 0 }))).toEqual([]);
  });

  it('groups by an enum in declared order, nulls last, with per-group functions', async () => {
    const got = await one(agg('player', [key('level', 'active'), count, fn('avg', 'rating'), fn('sum', 'score')], { groupBy: [gk('level', 'level')] }));
    const expected = groups(PLAYERS_A, (x) => x.level, (k) => LEVELS.indexOf(k)).map(([level, rows]) => {
      const r = present(rows.map((x) => x.rating));
      const s = present(rows.map((x) => x.score));
      return { key: { level, active: null }, count: rows.length, avg: { rating: r.length ? r.reduce((a, b) => a + b) / r.length : null }, sum: { score: s.length ? s.reduce((a, b) => a + b) : null } };
    });
    expect(got).toEqual(expected);
    expect(got.map((g) => g.key.level)).toEqual(['low', 'mid', 'high', null]);
  });

  it('buckets datetimes by minute, hour, day, week (from Monday) and month in UTC, and dates by week and month', async () => {
    for (const bucket of ['minute', 'hour', 'day', 'week', 'month'] as const) {
      const name = `seen_at_${bucket}`;
      const got = await one(agg('player', [key(name), count], { groupBy: [gk(name, 'seen_at', [], bucket)] }));
      const expected = groups(PLAYERS_A, (x) => (x.seen_at ? isoMicros(truncMs(Date.parse(x.seen_at), bucket) * 1000) : null)).map(([k, rows]) => ({ key: { [name]: k }, count: rows.length }));
      expect(got, bucket).toEqual(expected);
    }
    const weeks = await one(agg('player', [key('seen_at_week'), count], { groupBy: [gk('seen_at_week', 'seen_at', [], 'week')] }));
    expect(weeks.slice(0, 3)).toEqual([
      { key: { seen_at_week: '2024-02-26T00:00:00.000000Z' }, count: 1 },
      { key: { seen_at_week: '2024-03-04T00:00:00.000000Z' }, count: 4 }, // Mon Mar 4 … Sun Mar 10 23:59:59.999
      { key: { seen_at_week: '2024-03-11T00:00:00.000000Z' }, count: 1 },
    ]);
    for (const bucket of ['week', 'month'] as const) {
      const name = `born_${bucket}`;
      const got = await one(agg('player', [key(name), count], { groupBy: [gk(name, 'born', [], bucket)] }));
      const expected = groups(PLAYERS_A, (x) => (x.born ? new Date(truncMs(Date.parse(`${x.born}T00:00:00Z`), bucket)).toISOString().slice(0, 10) : null)).map(([k, rows]) => ({ key: { [name]: k }, count: rows.length }));
      expect(got, bucket).toEqual(expected);
    }
  });

  it('buckets and averages datetimes the same whatever the session time zone', async () => {
    const node = agg('player', [key('seen_at_day', 'seen_at_month', 'born_week'), count, fn('avg', 'seen_at'), fn('max', 'seen_at')], {
      groupBy: [gk('seen_at_day', 'seen_at', [], 'day'), gk('seen_at_month', 'seen_at', [], 'month'), gk('born_week', 'born', [], 'week')],
    });
    const q = compileRead(model, { scope: { kind: 'projects', projectIds: [A] }, roots: [{ responseKey: 'a', node }] });
    const inZone = (zone: string) =>
      t.db.withPrincipal(viewerA, async (tx) => {
        await tx.query(`SELECT set_config('TimeZone', $1, true)`, [zone]);
        return (await tx.query<{ data: string }>(q.text, q.params)).rows[0].data;
      });
    const utc = await inZone('UTC');
    expect(await inZone('Asia/Kathmandu')).toBe(utc); // +05:45
    expect(await inZone('America/Los_Angeles')).toBe(utc);
    expect(JSON.parse(utc).a).toEqual(await one(node));
  });

  it('groups by several keys, by related columns one and two hops away, and by foreign keys', async () => {
    const teamOf = (x: Player) => (x.team ? TEAMS_A[x.team] : null);
    const got = await one(agg('player', [key('team_name', 'team_tier', 'active'), count], { groupBy: [gk('team_name', 'name', ['team']), gk('team_tier', 'tier', ['team']), gk('active', 'active')] }));
    const expected: unknown[] = [];
    for (const [name, rows] of groups(PLAYERS_A, (x) => teamOf(x)?.name ?? null)) {
      for (const [active, inner] of groups(rows, (x) => x.active, (b) => (b ? 1 : 0))) {
        expected.push({ key: { team_name: name, team_tier: name === null ? null : teamOf(inner[0])!.tier, active }, count: inner.length });
      }
    }
    expect(got).toEqual(expected);

    const byId = new Map(PLAYERS_A.map((x) => [x.id, x]));
    const games = await one(agg('game', [key('player_team_name', 'player_team_id'), count, fn('sum', 'kills')], { groupBy: [gk('player_team_name', 'name', ['player', 'team']), gk('player_team_id', 'team_id', ['player'])] }));
    expect(games).toEqual(
      groups(GAMES_A, (g) => teamOf(byId.get(g.player_id)!)?.name ?? null).map(([name, rows]) => ({
        key: { player_team_name: name, player_team_id: byId.get(rows[0].player_id)!.team },
        count: rows.length,
        sum: { kills: rows.reduce((s, g) => s + g.kills, 0) },
      })),
    );
  });

  it('orders groups by count, a function, or a key in either direction, then by the keys; limit cuts', async () => {
    const level = [gk('level', 'level')];
    const byCount = await one(agg('player', [key('level'), count], { groupBy: level, orderBy: [by({ kind: 'count' }, 'DESC')] }));
    // high 3, then low/mid 2 each (ordered by level: low before mid), then null 1.
    expect(byCount).toEqual([
      { key: { level: 'high' }, count: 3 },
      { key: { level: 'low' }, count: 2 },
      { key: { level: 'mid' }, count: 2 },
      { key: { level: null }, count: 1 },
    ]);
    const bySum = await one(agg('player', [key('level'), fn('sum', 'score')], { groupBy: level, orderBy: [by({ kind: 'fn', fn: 'sum', column: 'score' }, 'DESC')], limit: 2 }));
    expect(bySum).toEqual([
      { key: { level: 'high' }, sum: { score: 15 } },
      { key: { level: 'low' }, sum: { score: 11 } },
    ]);
    const byKeyDesc = await one(agg('player', [key('level')], { groupBy: level, orderBy: [by({ kind: 'key', name: 'level' }, 'DESC')] }));
    expect(byKeyDesc.map((g) => g.key.level)).toEqual([null, 'high', 'mid', 'low']);
    const byMaxSeen = await one(agg('player', [key('level')], { groupBy: level, orderBy: [by({ kind: 'fn', fn: 'max', column: 'seen_at' }, 'DESC')] }));
    expect(byMaxSeen.map((g) => g.key.level)).toEqual(['low', 'mid', 'high', null].sort((a, b) => {
      const max = (l: string | null) => Math.max(...present(PLAYERS_A.filter((x) => x.level === l).map((x) => x.seen_at)).map(Date.parse), -Infinity);
      return max(b) - max(a);
    }));
  });

  it('nests aggregates inside lists, correlated with each parent row, in one statement', async () => {
    const { data } = await run(viewerA, [
      [
        'teams',
        {
          kind: 'list',
          entity: 'team',
          args: { orderBy: [asc('name')] },
          selection: [
            ...cols('name'),
            { responseKey: 'by_level', kind: 'to_many', relation: 'players', node: agg('player', [key('level'), count], { groupBy: [gk('level', 'level')] }) },
            { responseKey: 'all', kind: 'to_many', relation: 'players', node: agg('player', [count, fn('max', 'score')]) },
          ],
        },
      ],
      ['total', agg('player', [count])],
    ]);
    const expectTeam = (id: string) => ({
      name: TEAMS_A[id].name,
      by_level: groups(PLAYERS_A.filter((x) => x.team === id), (x) => x.level, (k) => LEVELS.indexOf(k)).map(([level, rows]) => ({ key: { level }, count: rows.length })),
      all: [{ count: PLAYERS_A.filter((x) => x.team === id).length, max: { score: Math.max(...present(PLAYERS_A.filter((x) => x.team === id).map((x) => x.score))) } }],
    });
    expect(data.teams).toEqual([expectTeam(TEAM.blue), expectTeam(TEAM.green), expectTeam(TEAM.red)]);
    expect(data.total).toEqual([{ count: 8 }]);
  });

  it('applies search and filters before grouping', async () => {
    expect(await one(agg('player', [count, fn('min', 'name')], { search: 'eve' }))).toEqual([{ count: 1, min: { name: 'eve' } }]);
    const got = await one(agg('player', [key('level'), count], { groupBy: [gk('level', 'level')], filter: cmp('score', 'gte', 4, 'int') }));
    expect(got).toEqual([
      { key: { level: 'low' }, count: 2 },
      { key: { level: 'mid' }, count: 1 },
      { key: { level: 'high' }, count: 1 },
    ]);
  });

  it("never counts, groups or distinguishes another project's rows (SPEC A-4)", async () => {
    const node = agg('player', [key('team_name'), count, fn('count_distinct', 'tag', 'level'), fn('sum', 'score')], { groupBy: [gk('team_name', 'name', ['team'])] });
    const a = await one(node, viewerA);
    const red = PLAYERS_A.filter((x) => x.team === TEAM.red);
    expect(a.find((g) => g.key.team_name === 'red')).toEqual({ key: { team_name: 'red' }, count: red.length, count_distinct: { tag: 1, level: 3 }, sum: { score: 17 } });
    expect(a.map((g) => g.key.team_name)).toEqual(['blue', 'green', 'red', null]);
    expect((await one(agg('player', [fn('count_distinct', 'tag')]), viewerA))[0].count_distinct.tag).toBe(3); // U4 is B's only
    const b = await one(node, viewerB);
    expect(b).toEqual([{ key: { team_name: 'red' }, count: 2, count_distinct: { tag: 2, level: 2 }, sum: { score: 300 } }]);
    // Admin sees both projects: the two "red" teams fall into one group.
    const all = await one(node, admin);
    expect(all.find((g) => g.key.team_name === 'red')!.count).toBe(red.length + 2);
    // Nested: B's game rows never join A's players, and A's viewer sees no B player under any team.
    const nested = await run(viewerA, [
      ['players', { kind: 'list', entity: 'player', args: { orderBy: [asc('name')], limit: 1 }, selection: [...cols('name'), { responseKey: 'games', kind: 'to_many', relation: 'games', node: agg('game', [count, fn('sum', 'kills')]) }] }],
      ['games', agg('game', [count, fn('max', 'kills')])],
    ]);
    expect(nested.data).toEqual({ players: [{ name: 'ann', games: [{ count: 2, sum: { kills: 8 } }] }], games: [{ count: GAMES_A.length, max: { kills: 7 } }] });
    // Project scope on the admin's plan narrows it too (the compiler's tenant predicate).
    const scoped = await runPlan(t.db, model, admin, [['a', agg('game', [count])]], { kind: 'projects', projectIds: [B] });
    expect(scoped.data.a).toEqual([{ count: 1 }]);
  });

  it('refuses bad inputs with BAD_USER_INPUT', () => {
    const compile = (node: AggregateNode) => () => compileRead(model, { scope: { kind: 'all' }, roots: [{ responseKey: 'a', node }] });
    const bad = (node: AggregateNode, message: RegExp) => {
      let err: unknown;
      try {
        compile(node)();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(LatticeError);
      expect((err as LatticeError).code).toBe('BAD_USER_INPUT');
      expect((err as LatticeError).message).toMatch(message);
    };
    bad(agg('player', [count], { orderBy: [by({ kind: 'key', name: 'level' })] }), /not in group_by/);
    bad(agg('player', [count], { limit: -1 }), /non-negative/);
    bad(agg('player', [count], { limit: 1.5 }), /non-negative integer/);
    bad(agg('player', [count], { groupBy: [gk('score_day', 'score', [], 'day')] }), /only datetime and date/);
    bad(agg('player', [count], { groupBy: [gk('born_day', 'born', [], 'day')] }), /week, month/);
    bad(agg('player', [count], { groupBy: [gk('info', 'info')] }), /json fields are not group keys/);
    bad(agg('player', [fn('sum', 'name')]), /sum does not apply to string/);
    bad(agg('player', [fn('avg', 'born')]), /avg does not apply to date/);
    bad(agg('player', [count], { orderBy: [by({ kind: 'fn', fn: 'max', column: 'info' })] }), /max does not apply to json/);
    bad(agg('player', [fn('min', 'nope')]), /no field "nope"/);
    bad(agg('player', [count], { groupBy: [gk('x', 'name'), gk('x', 'level')] }), /Two different group keys/);
    bad(agg('game', [count], { groupBy: [gk('g', 'name', ['games'])] }), /not a to-one relation/);
    bad(agg('team', [count], { search: 'x' }), /no searchable fields/);
  });
});
