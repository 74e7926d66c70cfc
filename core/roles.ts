/**
 * Roles (docs/protocol.md, Operator HTTP API): admin may do everything; operators handle the
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
  /** replay stores readings and runs the rules: admins only (docs/api.md, Replaying dead letters) */
  replayDeadLetters: ['admin'],
  manageUsers: ['admin'],
  /** the audit log (docs/security.md, Audit log): who did what names people and addresses */
  readAudit: ['admin'],
  readAlerts: ['admin', 'operator', 'dispatcher'],
  /** further narrowed per alert by mayHandle */
  handleAlerts: ['admin', 'operator', 'dispatcher'],
  recordRescueSteps: ['admin', 'dispatcher'],
  readCylinders: ['admin', 'operator'],
  /** on-time statistics (dashboard); dispatchers see their cases in the console instead */
  readStats: ['admin', 'operator'],
  /** the black list's steps (notified, rectified, re-checked, lifted) */
  manageStoreLists: ['admin', 'operator'],
  manageCylinders: ['admin'],
  /** /metrics, when METRICS_REQUIRE_TOKEN is set */
  readMetrics: ['admin'],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof permissions;

export function allowed(role: Role, permission: Permission): boolean {
  return (permissions[permission] as readonly Role[]).includes(role);
}

/**
 * Who handles which alert (issue: "dispatchers handle elevator rescue; operators everything
 * else; admin all"): the trapped-passenger alert belongs to the 96333 dispatchers.
 */
export function mayHandle(role: Role, rule: string, rescueRule: string): boolean {
  if (role === 'admin') return true;
  return role === 'dispatcher' ? rule === rescueRule : rule !== rescueRule;
}
