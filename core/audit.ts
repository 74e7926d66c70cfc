/**
 * The audit log's vocabulary (docs/security.md, Audit log): every action it records, each with
 * the kind of thing it is about. The codes are stable (reports, exports and filters branch on
 * them): add new ones, never rename one. Pure; the recording is accounts/auditLog.ts.
 */

/** What an entry is about; its id is the thing's own (a username, a device id, an alert id ...). */
export const auditTargets = ['user', 'device', 'import_job', 'cylinder_registry', 'alert', 'rescue_case', 'store', 'dead_letter'] as const;
export type AuditTarget = (typeof auditTargets)[number];

/** Every action, in the order docs/security.md lists them, with its target's kind. */
export const auditActions = {
  'auth.login': 'user',
  /** the username as typed (it may not exist), never the password */
  'auth.login_refused': 'user',
  'auth.logout': 'user',
  'auth.password_changed': 'user',
  'user.created': 'user',
  'user.disabled': 'user',
  'user.enabled': 'user',
  'user.role_changed': 'user',
  'user.district_changed': 'user',
  'user.password_reset': 'user',
  'user.deleted': 'user',
  'device.registered': 'device',
  'device.secret_rotated': 'device',
  'device.import_started': 'import_job',
  /** the job's end, done or failed, with its counts (never the secrets of its result) */
  'device.imported': 'import_job',
  'cylinder.imported': 'cylinder_registry',
  'alert.ack': 'alert',
  'alert.resolve': 'alert',
  'alert.note': 'alert',
  'alert.assign': 'alert',
  'alert.false_positive': 'alert',
  'alert.store_answer': 'alert',
  'alert.recheck': 'alert',
  'rescue.reported': 'rescue_case',
  'rescue.step': 'rescue_case',
  'rescue.escalation_ack': 'rescue_case',
  'store.list_step': 'store',
  /** several at once: the id when one, else none; the ids and outcomes in the details */
  'dead_letter.replayed': 'dead_letter',
} as const satisfies Record<string, AuditTarget>;

export type AuditAction = keyof typeof auditActions;

export const auditActionCodes = Object.keys(auditActions) as AuditAction[];

export function isAuditAction(s: string): s is AuditAction {
  return Object.hasOwn(auditActions, s);
}

/** A value of an entry's details: flat, so an export shows it as `key=value` and nothing nests without bound. */
export type AuditValue = string | number | boolean | null;
export type AuditDetails = Record<string, AuditValue | undefined>;

/** Longest text kept of one detail (a note is kept as its start). */
export const AUDIT_TEXT_MAX = 200;
/** Most details of one entry. */
export const AUDIT_DETAILS_MAX = 12;
/** Keys that could hold a secret are never kept, whatever a caller passes (a net under the call sites). */
const SECRET_KEY = /password|passwd|secret|token|hash/i;
const CONTROL = /[\u0000-\u001f\u007f]/g;

/** Text as the log keeps it: no control characters, at most `max` characters (cut with …). */
export function boundedText(s: string, max = AUDIT_TEXT_MAX): string {
  const clean = s.replace(CONTROL, ' ');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** Details as the log keeps them: flat values, no secret-named key, texts bounded, at most AUDIT_DETAILS_MAX; null when none. */
export function boundedDetails(details: AuditDetails | undefined): Record<string, AuditValue> | null {
  if (!details) return null;
  const out: Record<string, AuditValue> = {};
  let n = 0;
  for (const [k, v] of Object.entries(details)) {
    if (v === undefined || SECRET_KEY.test(k) || n >= AUDIT_DETAILS_MAX) continue;
    if (typeof v === 'number' && !Number.isFinite(v)) continue;
    out[boundedText(k, 40)] = typeof v === 'string' ? boundedText(v) : v;
    n++;
  }
  return n ? out : null;
}
