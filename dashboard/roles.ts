/**
 * Roles (PROTOCOL.md, Operator HTTP API): admin may do everything; operators handle the
 * monitoring wall; dispatchers handle 96333 elevator rescue.
 */
export const roles = ['admin', 'operator', 'dispatcher'] as const;
export type Role = (typeof roles)[number];

/** What each route needs; admin passes every check. */
export const permissions = {
  readDevices: ['admin', 'operator', 'dispatcher'],
  manageDevices: ['admin'],
  readReadings: ['admin', 'operator', 'dispatcher'],
  readDeadLetters: ['admin', 'operator'],
  manageUsers: ['admin'],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof permissions;

export function allowed(role: Role, permission: Permission): boolean {
  return (permissions[permission] as readonly Role[]).includes(role);
}
