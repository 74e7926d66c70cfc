/**
 * Exports (导出) of the lists the consoles show, as CSV or XLSX through tableOut.ts (docs/api.md,
 * Table exports): every alert matching the filters of GET /api/alerts, and the 96333 rescue cases
 * of a period with their step times and deadlines met. A list route answers pages; these answer
 * one whole file, so they are routes of their own. The on-time rates export through
 * `format=` on their own routes (stats.ts). Same permissions and district scope as the reads.
 * Each holds an export slot (tableOut.ts) from reading its rows to sending its file.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AlertKey } from '../../core/alerts/alertQuery.js';
import type { RescueCase } from '../../core/alerts/rescueCase.js';
import { CodedError } from '../../core/codes.js';
import { inScope, scopeOf, scopedDistrict } from '../../accounts/scope.js';
import { rescueCaseDistrict } from '../districts.js';
import { alertFilters } from './alerts.js';
import { ErrorBody, TimeParam, filterText, runningEngine } from './common.js';
import { EXPORT_MAX_ROWS, alertHeader, alertRow, caseHeader, caseRow, stampedName, tooLarge } from './exportTables.js';
import { inExportSlot, sendTable } from './tableOut.js';
import type { XlsxCell } from './xlsxOut.js';

/** Alerts read per step of an export: each step is one store query, the event loop runs between them. */
const PAGE = 5000;

const fileFormat = z.enum(['csv', 'xlsx']).default('csv').describe('csv (UTF-8 with a BOM) or xlsx (one sheet, bold frozen header)');
const FileOut = z.string().describe('the file (an attachment): CSV text or XLSX bytes');

export const exportRoutes: FastifyPluginAsyncZod = async (app) => {
  const engine = () => runningEngine(app.deps);

  app.get('/alerts/export', {
    schema: {
      tags: ['alerts'],
      summary: `Every alert matching the filters of GET /api/alerts (not one page), newest first seen first, as CSV or XLSX; more than ${EXPORT_MAX_ROWS} rows: 400 export_too_large`,
      querystring: z.object({
        ...alertFilters,
        format: fileFormat,
      }),
      response: { 200: FileOut, 400: ErrorBody },
    },
    preHandler: app.requires('readAlerts'),
  }, async (req, reply) => inExportSlot(req, async () => {
    const q = req.query;
    // within the caller's district scope, in the query (docs/api.md, District scope)
    const district = scopedDistrict(req.user!, q.district);
    const rows: XlsxCell[][] = [];
    if (district !== false) {
      const filter = {
        ...(q.status ? { status: q.status } : {}), ...(q.family ? { family: q.family } : {}), ...(q.severity ? { severity: q.severity } : {}),
        ...(q.rule ? { rule: q.rule } : {}), ...(q.deviceId ? { deviceId: q.deviceId } : {}), ...(district ? { district } : {}),
        ...(q.since !== undefined ? { since: q.since } : {}), ...(q.until !== undefined ? { until: q.until } : {}),
      };
      // by firstSeen, which never changes: a walk through the pages meets each alert exactly once
      // even while alerts repeat or change status meanwhile (core/alerts/alertQuery.ts)
      let after: AlertKey | null = null;
      do {
        const page = await engine().listAlerts({ ...filter, sort: 'firstSeen', after, limit: PAGE });
        for (const a of page.items) rows.push(alertRow(a));
        if (rows.length > EXPORT_MAX_ROWS) throw tooLarge('alerts', 'the filters (status, severity, family, district, since, until)');
        after = page.next;
      } while (after);
    }
    return sendTable(reply, q.format, stampedName('alerts', Date.now()), alertHeader, rows);
  }));

  app.get('/rescue-cases/export', {
    schema: {
      tags: ['rescue'],
      summary: '96333 rescue cases alarmed in [from, to) (both optional), newest first, with every step\'s time, the minutes from the alarm and whether '
        + `the dispatch and arrival deadlines were met, as CSV or XLSX; scope=active: the unfinished ones only; more than ${EXPORT_MAX_ROWS} rows: 400 export_too_large`,
      querystring: z.object({
        scope: z.enum(['active', 'all']).default('all'),
        elevatorId: filterText(64).optional(),
        from: TimeParam.optional().describe('alarmed at or after'),
        to: TimeParam.optional().describe('alarmed before'),
        format: fileFormat,
      }),
      response: { 200: FileOut, 400: ErrorBody },
    },
    preHandler: app.requires('readAlerts'),
  }, async (req, reply) => inExportSlot(req, async () => {
    const q = req.query;
    if (q.from !== undefined && q.to !== undefined && q.from >= q.to) {
      throw new CodedError('validation', 'from must be before to', [{ in: 'querystring', path: 'from', message: 'not before to' }]);
    }
    const now = Date.now();
    const registry = app.deps.registry;
    const inPeriod = (c: RescueCase) => (q.from === undefined || c.alarmAt >= q.from) && (q.to === undefined || c.alarmAt < q.to);
    // the caller's district scope: in the query of stored cases, as GET /api/rescue-cases does
    const district = scopeOf(req.user!);
    const cases = q.scope === 'active'
      ? engine().activeRescueCases().filter((c) => inScope(req.user!, rescueCaseDistrict(registry, c)) && inPeriod(c) && (!q.elevatorId || c.elevatorId === q.elevatorId))
      : await engine().listRescueCases({
        limit: EXPORT_MAX_ROWS + 1, ...(q.elevatorId ? { elevatorId: q.elevatorId } : {}), ...(district !== null ? { district } : {}),
        ...(q.from !== undefined ? { since: q.from } : {}), ...(q.to !== undefined ? { until: q.to } : {}),
      });
    if (cases.length > EXPORT_MAX_ROWS) throw tooLarge('rescue cases', 'the period (from, to)');
    const elevator = (id: string) => registry.get(id);
    const rows = [...cases].sort((a, b) => b.alarmAt - a.alarmAt || a.id.localeCompare(b.id)).map((c) => caseRow(c, app.deps.rescuePolicy, now, elevator));
    return sendTable(reply, q.format, stampedName('rescue-cases', now), caseHeader, rows);
  }));
};
