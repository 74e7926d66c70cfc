/**
 * The audit log (docs/security.md, Audit log), admin only: filtered, a page at a time with the
 * total, or the matching entries as CSV / XLSX (tableOut.ts); and the codes it records.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { auditActionCodes, auditActions, auditTargets, isAuditAction, type AuditAction } from '../../core/audit.js';
import type { AuditEntry } from '../../store/types.js';
import { ErrorBody, TimeParam, filterText, iso, limitParam, offsetParam } from './common.js';
import { exportFormat, sendTable } from './tableOut.js';

/** Entries in one export at most, the newest matching; more: narrow the period. */
export const AUDIT_EXPORT_MAX = 100_000;

const EntryOut = z.object({
  id: z.number(), at: z.string(), actor: z.string().nullable().describe('username; null for a refused login'),
  action: z.string().describe('a code of GET /api/audit/actions'), targetKind: z.string().nullable(), targetId: z.string().nullable(),
  address: z.string().nullable().describe('the client address of the request'),
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).nullable(),
});

/** `action=user.disabled,user.deleted`: known codes only. */
const ActionList = z.string().max(1000).transform((s, ctx) => {
  const list = s.split(',').map((x) => x.trim()).filter(Boolean);
  for (const a of list) if (!isAuditAction(a)) ctx.addIssue({ code: 'custom', message: `unknown action ${a}; GET /api/audit/actions lists them` });
  return list as AuditAction[];
});

const entryOut = (e: AuditEntry): z.output<typeof EntryOut> => ({ ...e, at: iso(e.at)! });

/** Details in one cell: `key=value; key=value` (a spreadsheet has no JSON column). */
const detailsText = (d: AuditEntry['details']): string | null => (d ? Object.entries(d).map(([k, v]) => `${k}=${v === null ? '' : String(v)}`).join('; ') : null);

export const auditRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/audit', {
    schema: {
      tags: ['audit'],
      summary: 'The audit log (admin), newest first: filter by actor, action (comma-separated codes), target kind and id, time [from, to); '
        + `a page by limit and offset, with the total; format=csv|xlsx: every matching entry (the newest ${AUDIT_EXPORT_MAX.toLocaleString('en')} at most)`,
      querystring: z.object({
        actor: filterText(128).optional(),
        action: ActionList.optional(),
        targetKind: z.enum(auditTargets).optional(),
        target: filterText(128).optional().describe('the target\'s id: a username, device id, alert id ...'),
        from: TimeParam.optional().describe('at or after'),
        to: TimeParam.optional().describe('before'),
        limit: limitParam(100, 1000),
        offset: offsetParam,
        format: exportFormat,
      }),
      response: {
        200: z.union([z.object({ total: z.number(), offset: z.number(), items: z.array(EntryOut) }), z.string()]),
        400: ErrorBody,
      },
    },
    preHandler: app.requires('readAudit'),
  }, async (req, reply) => {
    const q = req.query;
    const filter = {
      ...(q.actor ? { actor: q.actor } : {}),
      ...(q.action?.length ? { actions: q.action } : {}),
      ...(q.targetKind ? { targetKind: q.targetKind } : {}),
      ...(q.target ? { targetId: q.target } : {}),
      ...(q.from !== undefined ? { from: q.from } : {}),
      ...(q.to !== undefined ? { to: q.to } : {}),
    };
    if (q.format !== 'json') {
      const { items } = await app.deps.audit.list({ ...filter, limit: AUDIT_EXPORT_MAX, offset: 0 });
      return sendTable(reply, q.format, 'audit-log', ['id', 'at', 'actor', 'action', 'targetKind', 'targetId', 'address', 'details'],
        items.map((e) => [e.id, iso(e.at), e.actor, e.action, e.targetKind, e.targetId, e.address, detailsText(e.details)]));
    }
    const { total, items } = await app.deps.audit.list({ ...filter, limit: q.limit, offset: q.offset });
    return { total, offset: q.offset, items: items.map(entryOut) };
  });

  app.get('/audit/actions', {
    schema: {
      tags: ['audit'],
      summary: 'Every action code the audit log records, with the kind of its target (docs/security.md, Audit log)',
      response: { 200: z.object({ items: z.array(z.object({ action: z.string(), targetKind: z.enum(auditTargets) })) }) },
    },
    preHandler: app.requires('readAudit'),
  }, async () => ({ items: auditActionCodes.map((action) => ({ action, targetKind: auditActions[action] })) }));
};
