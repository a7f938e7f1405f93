/**
 * Roles and what they may do, in one place (seed 003 roles, DESIGN.md §4).
 * Each role includes every role below it.
 */
export const ROLES = ['viewer', 'developer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who may call a route: anyone (`public`) or at least this role. */
export type Access = 'public' | Role;

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** The highest rank among the roles held (-1 for none). */
function rank(roles: readonly Role[]): number {
  return Math.max(-1, ...roles.map((r) => ROLES.indexOf(r)));
}

export function satisfies(held: readonly Role[], required: Access): boolean {
  return required === 'public' || rank(held) >= ROLES.indexOf(required);
}

/** The rate-limit tier of a principal (seed 004 §3.2). */
export type RateTier = 'anonymous' | 'authenticated' | 'admin';

export function tierOf(roles: readonly Role[] | undefined): RateTier {
  if (!roles || roles.length === 0) return 'anonymous';
  return roles.includes('admin') ? 'admin' : 'authenticated';
}
