/**
 * The per-project rules of principals (SPEC A-3; issue 8 item 3), without a database: how an external identity
 * and its user's memberships become a principal, which projects it may write, where a write goes, who owns a
 * project, and what reaches row-level security.
 */
import { describe, expect, it } from 'vitest';
import { principalOf, type ExternalIdentity } from '../../src/auth/identity.js';
import { requireOwner, resolveWriteProject, roleIn, writableProjectIds, type Principal } from '../../src/auth/principal.js';
import { parseExpiresIn } from '../../src/cli/program.js';
import { principalParams } from '../../src/db/session.js';
import { LatticeError } from '../../src/errors.js';

const P1 = '0190a0a0-0000-7000-8000-000000000001';
const P2 = '0190a0a0-0000-7000-8000-000000000002';
const P3 = '0190a0a0-0000-7000-8000-000000000003';
const USER = '0190a0a0-0000-7000-8000-0000000000aa';

const identity = (role: ExternalIdentity['role'], projectIds: string[] = []): ExternalIdentity => ({
  issuer: 'https://idp.test/',
  subject: 'alice',
  role,
  projectIds,
  source: 'The token',
  projectsHint: 'Put the project ids in the token.',
});
const memberships = [
  { project_id: P1, role: 'owner' as const },
  { project_id: P2, role: 'viewer' as const },
  { project_id: P3, role: 'editor' as const },
];

function refusal(fn: () => unknown): LatticeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LatticeError);
    return err as LatticeError;
  }
  throw new Error('expected a refusal');
}

describe('principalOf: identity + memberships → principal', () => {
  it('without project claims, memberships give the projects and a role per project, capped by the identity role', () => {
    const owner = principalOf(identity('owner'), { userId: USER, memberships });
    expect(owner).toMatchObject({ kind: 'user', id: USER, userId: USER, role: 'owner', projectIds: [P1, P2, P3] });
    expect(Object.fromEntries(owner.projectRoles!)).toEqual({ [P1]: 'owner', [P2]: 'viewer', [P3]: 'editor' });
    const editor = principalOf(identity('editor'), { userId: USER, memberships });
    expect(editor.role).toBe('editor');
    expect(Object.fromEntries(editor.projectRoles!)).toEqual({ [P1]: 'editor', [P2]: 'viewer', [P3]: 'editor' });
    const viewer = principalOf(identity('viewer'), { userId: USER, memberships });
    expect(viewer.role).toBe('viewer');
    expect(writableProjectIds(viewer)).toEqual([]);
  });

  it('project claims are used as given; admin spans everything; no projects and no memberships is 403', () => {
    expect(principalOf(identity('editor', [P3]), { userId: USER, memberships })).toEqual({ kind: 'user', id: USER, userId: USER, role: 'editor', projectIds: [P3] });
    expect(principalOf(identity('admin'), { userId: USER, memberships: [] })).toEqual({ kind: 'user', id: USER, userId: USER, role: 'admin', projectIds: [] });
    const e = refusal(() => principalOf(identity('editor'), { userId: USER, memberships: [] }));
    expect(e.code).toBe('FORBIDDEN');
    expect(e.message).toContain(`its user ${USER}`);
  });
});

describe('writes of a principal with per-project roles', () => {
  const member: Principal = principalOf(identity('owner'), { userId: USER, memberships });

  it('roleIn and writableProjectIds follow the per-project roles', () => {
    expect(roleIn(member, P1)).toBe('owner');
    expect(roleIn(member, P2.toUpperCase())).toBe('viewer');
    expect(roleIn(member, '0190a0a0-0000-7000-8000-000000000009')).toBeUndefined();
    expect(writableProjectIds(member)).toEqual([P1, P3]);
    const key: Principal = { kind: 'api_key', id: 'k', role: 'editor', projectIds: [P1] };
    expect(roleIn(key, P1)).toBe('editor');
    expect(writableProjectIds(key)).toEqual([P1]);
    expect(writableProjectIds({ ...key, role: 'viewer' })).toEqual([]);
    expect(writableProjectIds({ kind: 'api_key', id: 'a', role: 'admin', projectIds: [] })).toEqual([]);
  });

  it('resolveWriteProject: a named writable project, 403 for a viewer or foreign project, 400 listing the choices', () => {
    expect(resolveWriteProject(member, P3.toUpperCase())).toBe(P3);
    const viewer = refusal(() => resolveWriteProject(member, P2));
    expect([viewer.code, viewer.message]).toEqual(['FORBIDDEN', `Role 'viewer' in project ${P2} cannot write data; use credentials with role editor, owner or admin in that project.`]);
    expect(refusal(() => resolveWriteProject(member, '0190a0a0-0000-7000-8000-000000000009')).code).toBe('FORBIDDEN');
    const ambiguous = refusal(() => resolveWriteProject(member));
    expect(ambiguous.code).toBe('BAD_USER_INPUT');
    expect(ambiguous.message).toBe(`These credentials can write into 2 projects: name the target project with "project_id" (one of ${P1}, ${P3}).`);
    // One writable project among several readable ones: no need to name it.
    const single = principalOf(identity('owner'), { userId: USER, memberships: memberships.slice(0, 2) });
    expect(resolveWriteProject(single)).toBe(P1);
  });

  it('requireOwner: owners of the project (by key or membership) and admins only', () => {
    expect(() => requireOwner(member, P1)).not.toThrow();
    expect(refusal(() => requireOwner(member, P3, 'members')).message).toMatch(/Role 'editor' cannot manage members of project/);
    expect(refusal(() => requireOwner(member, '0190a0a0-0000-7000-8000-000000000009')).message).toMatch(/manage only the projects they own/);
    expect(() => requireOwner({ kind: 'api_key', id: 'a', role: 'admin', projectIds: [] }, P2)).not.toThrow();
  });

  it('row-level security receives the writable projects as the fifth setting', () => {
    expect(principalParams(member, 1000)).toEqual(['owner', `{${P1},${P2},${P3}}`, USER, '1000', `{${P1},${P3}}`]);
    expect(principalParams({ kind: 'api_key', id: 'k', role: 'viewer', projectIds: [P1] })[4]).toBe('{}');
  });
});

describe('lattice key create --expires-in', () => {
  it('turns a duration into the ISO instant that far from now; refuses anything else', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(parseExpiresIn('30d', now)).toBe('2026-01-31T00:00:00.000Z');
    expect(parseExpiresIn('12h', now)).toBe('2026-01-01T12:00:00.000Z');
    expect(parseExpiresIn('90m', now)).toBe('2026-01-01T01:30:00.000Z');
    expect(parseExpiresIn('2w', now)).toBe('2026-01-15T00:00:00.000Z');
    for (const bad of ['30', 'd', '0d', '-1d', '1y', '1.5d']) expect(() => parseExpiresIn(bad, now), bad).toThrow(/positive duration like 90m, 12h, 30d or 2w/);
  });
});
