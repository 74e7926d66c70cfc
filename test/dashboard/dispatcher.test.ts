/**
 * The 96333 dispatcher console in headless Chromium (Debian package chromium, driven by
 * playwright-core): a dispatcher takes a phone call and enters it by the elevator's rescue
 * code (a second call for the same trapping joins the case, an unknown code is refused), sees
 * the case card (floor, address, maintenance unit and its phone, rescue code, source, caller
 * phones), records the dispatch with the technician, is offered only the steps that may come
 * next (no skip past the arrival or the release), cannot confirm a false alarm or a late step
 * without a reason, sees a step recorded meanwhile by someone else refused with its reason,
 * acknowledges an escalation, records the arrival, the release (at an earlier time) and the
 * close, and prints the case report (window.print stubbed). Text from the call stays text.
 * Then the statistics drill down from a rate to that case and to an alert. Screenshots in
 * test-output/. Skipped without chromium; REQUIRE_EXTERNAL=1 turns the skip into a failure.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';
import { browserProgram, launchChromium, signIn, addUsers, closeAll } from '../helpers/browser.js';

const out = path.resolve('test-output');
const NOTE = '<img src=x onerror=alert(1)> 12 楼, 两人, 一位老人';
const ELEVATOR = {
  id: 'elev-call-01', family: 'elevator', name: '文一路 12 号 3 幢 1 号梯', district: '330106', location: { lat: 30.28, lng: 120.13 },
  meta: {
    rescueCode: '33010612345', registrationCode: '31103301062019000123', address: '杭州市西湖区文一路 12 号 3 幢',
    maintenanceUnit: '杭州某电梯维保公司', maintenancePhone: '0571-87001234',
  },
};
/** a datetime-local value in China Standard Time, to the second */
const cst = (ms: number): string => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19);

interface Step { step: string; at: number; by: string; note?: string; details?: Record<string, unknown> }
interface Case { id: string; status: string; alarmAt: number; source: string; steps: Step[]; reports?: Array<Record<string, unknown>>; escalations?: Array<{ level: number; acknowledgedBy: string | null }> }

describe.skipIf(!browserProgram.ok)(`96333 dispatcher console in chromium${browserProgram.ok ? '' : ` (skipped: ${browserProgram.reason})`}`, () => {
  let ts: TestService;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  /** alert(), confirm(), prompt() the page opened: a payload that ran would open one */
  const jsDialogs: string[] = [];
  let caseId = '';

  const auth = (): Record<string, string> => ({ authorization: `Bearer ${ts.adminToken}` });
  async function getCase(id: string): Promise<Case> {
    const res = await ts.service.http.inject({ url: `/api/rescue-cases/${id}`, headers: auth() });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as Case;
  }

  async function open(user: string, password: string): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 1600, height: 1100 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${user}: ${e.message}`));
    page.on('dialog', (d) => { jsDialogs.push(d.message()); void d.dismiss(); });
    await signIn(page, ts.httpUrl, user, password);
    return page;
  }

  /** The step buttons a card offers, in order. */
  const offered = (p: Page, card: string): Promise<string[]> => p.$$eval(`${card} [data-step]`, (els) => els.map((e) => (e as HTMLElement).dataset.step!));

  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    // the unit's acknowledgement is due 3 s after the dispatch, so the test sees a late step and its escalation
    ts = await startService({ ALERT_TICK_MS: 200, ALERT_CHECKPOINT_MS: 300, ALERT_OVERRIDES: JSON.stringify({ rescue: { unitAckMin: 0.05 } }) });
    await addUsers(ts, [['disp1', 'dispatcher'], ['op1', 'operator']]);
    await ts.registerDevice(ELEVATOR);
    await ts.registerDevice({ id: 'elev-call-02', family: 'elevator', name: '古墩路 8 号 2 号梯', district: '330106', location: { lat: 30.29, lng: 120.1 }, meta: { rescueCode: '33010699999' } });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await closeAll(contexts, browser, ts);
  });

  it('takes a phone call by rescue code, records every step in order with its details and reasons, and prints the case report', async () => {
    const d = await open('disp1', 'disp1-password');
    expect(d.url()).toContain('#/dispatch');

    // --- the phone report form: every field labelled, the rescue code by default, filled and sent from the keyboard
    const unlabelled = await d.$$eval('#phone-report input, #phone-report select, #phone-report textarea', (els) => els.filter((e) => !(e as HTMLInputElement).labels?.length).map((e) => e.id));
    expect(unlabelled).toEqual([]);
    expect(await d.$eval('#phone-by', (e) => (e as HTMLSelectElement).value)).toBe('rescueCode');
    await d.getByLabel('救援识别码').focus();
    await d.keyboard.type(ELEVATOR.meta.rescueCode);
    await d.keyboard.press('Tab');
    await d.keyboard.type('139 0000 1111');
    await d.keyboard.press('Tab');
    await d.keyboard.type('12');
    await d.keyboard.press('Tab');
    await d.keyboard.type('2');
    await d.keyboard.press('Tab');
    await d.keyboard.type(NOTE);
    await d.keyboard.press('Tab');
    expect(await d.evaluate(() => document.activeElement?.id)).toBe('phone-submit');
    await d.keyboard.press('Enter');
    await d.waitForSelector('#phone-msg[data-code="created"]', { timeout: 15_000 });
    expect(await d.textContent('#phone-msg')).toContain('已创建救援单');
    // the form is cleared for the next call
    expect(await d.$eval('#phone-code', (e) => (e as HTMLInputElement).value)).toBe('');
    expect(await d.$eval('#phone-note', (e) => (e as HTMLTextAreaElement).value)).toBe('');

    await d.waitForSelector('.case:has-text("elev-call-01")', { timeout: 15_000 });
    caseId = (await d.getAttribute('.case:has-text("elev-call-01")', 'data-case'))!;
    const card = `.case[data-case="${caseId}"]`;
    const info = async (k: string): Promise<string | null> => d.textContent(`${card} [data-info="${k}"]`);
    await d.waitForSelector(`${card} [data-info="address"]`, { timeout: 15_000 });
    expect(await info('floor')).toBe('12');
    expect(await info('passengers')).toBe('2');
    expect(await info('address')).toBe(ELEVATOR.meta.address);
    expect(await info('unit')).toBe(ELEVATOR.meta.maintenanceUnit);
    expect(await info('unitPhone')).toBe(ELEVATOR.meta.maintenancePhone);
    expect(await info('rescueCode')).toBe(ELEVATOR.meta.rescueCode);
    expect(await info('callerPhone')).toBe('139 0000 1111');
    expect(await d.textContent(`${card} [data-source]`)).toBe('电话');
    // the caller's words are text: the markup is shown, never parsed
    expect(await d.textContent(`${card} .call-note`)).toContain(NOTE);

    // --- the same trapping called in again (by its registration code): joins the case, no second dispatch
    await d.selectOption('#phone-by', 'registrationCode');
    expect(await d.textContent('label[for="phone-code"]')).toBe('注册代码');
    await d.fill('#phone-code', ELEVATOR.meta.registrationCode);
    await d.fill('#phone-callerPhone', '13900002222');
    await d.click('#phone-submit');
    await d.waitForSelector('#phone-msg[data-code="merged"]', { timeout: 15_000 });
    expect(await d.textContent('#phone-msg')).toContain('已并入进行中的救援单, 不重复派单');
    await d.waitForFunction((sel) => document.querySelector(`${sel} [data-info="callerPhone"]`)?.textContent?.includes('13900002222'), card, { timeout: 15_000 });
    expect(await d.$$eval('.case[data-case]', (els) => els.length)).toBe(1);

    // --- an unknown code is refused by name
    await d.selectOption('#phone-by', 'rescueCode');
    await d.fill('#phone-code', 'NO-SUCH-CODE');
    await d.click('#phone-submit');
    await d.waitForSelector('#phone-msg[data-code="device_not_found"]', { timeout: 15_000 });
    expect(await d.textContent('#phone-msg')).toContain('未找到该电梯: 救援识别码 NO-SUCH-CODE');
    await d.screenshot({ path: path.join(out, 'dispatcher-phone-zh.png') });

    // --- only the dispatch may come first; it is recorded with the unit, the technician and a phone
    expect(await offered(d, card)).toEqual(['dispatched', 'false_alarm']);
    await d.click(`${card} [data-step="dispatched"]`);
    await d.waitForSelector('#step-dialog');
    expect(await d.$eval('#confirm-unit', (e) => (e as HTMLInputElement).value)).toBe(ELEVATOR.meta.maintenanceUnit);
    await d.fill('#confirm-technician', '王师傅');
    await d.fill('#confirm-phone', '138 0000 0000');
    await d.click('#step-dialog [data-confirm="ok"]');
    await d.waitForSelector(`${card}[data-status="dispatched"]`, { timeout: 15_000 });
    await d.waitForSelector('#step-dialog', { state: 'detached', timeout: 2000 });
    expect(await d.textContent(`${card} [data-step-done="dispatched"]`)).toContain('王师傅');
    // the unit's acknowledgement may be skipped, the arrival may not: nothing past it is offered
    expect(await offered(d, card)).toEqual(['acknowledged', 'arrived', 'false_alarm']);

    // --- a false alarm cannot be confirmed without a reason
    await d.click(`${card} [data-step="false_alarm"]`);
    await d.waitForSelector('#step-dialog');
    expect(await d.textContent('#step-dialog h2')).toContain('误报警');
    expect(await d.textContent('#step-why')).toContain('误报警必须填写原因');
    await d.click('#step-dialog [data-confirm="ok"]');
    expect(await d.textContent('#confirm-error')).toContain('请填写原因');
    expect(await d.$('#step-dialog')).not.toBeNull();
    await d.keyboard.press('Escape');
    expect(await d.$('#step-dialog')).toBeNull();
    expect((await getCase(caseId)).status).toBe('dispatched');

    // --- the unit's acknowledgement is late (due 3 s after the dispatch): the breach escalates, and the step wants a reason
    const escalated = await (async () => {
      for (let i = 0; i < 50; i++) {
        const c = await getCase(caseId);
        if (!('escalations' in c)) return null; // the service does not escalate yet
        if (c.escalations!.length) return c;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('no escalation after the unit acknowledgement deadline');
    })();
    if (escalated) {
      const esc = `${card} table.escalations tr[data-level="0"]`;
      await d.waitForSelector(esc, { timeout: 15_000 });
      expect(await d.textContent(esc)).toContain('维保接单超时');
      expect(await d.textContent(esc)).toContain('未确认');
      await d.click(`${esc} [data-ack-escalation="0"]`);
      await d.waitForFunction((sel) => document.querySelector(sel)?.textContent?.includes('disp1'), esc, { timeout: 15_000 });
      expect((await getCase(caseId)).escalations![0]!.acknowledgedBy).toBe('disp1');
      await d.screenshot({ path: path.join(out, 'dispatcher-console-zh.png') });
    } else {
      await new Promise((r) => setTimeout(r, 3200));
    }
    await d.click(`${card} [data-step="acknowledged"]`);
    await d.waitForSelector('#step-dialog');
    expect(await d.textContent('#step-why')).toContain('已超过维保接单时限');
    expect(await d.textContent('label[for="confirm-note"]')).toContain('必填');
    await d.click('#step-dialog [data-confirm="ok"]');
    expect(await d.textContent('#confirm-error')).toContain('请填写原因');
    // meanwhile a colleague records the acknowledgement: this one is refused, with the reason in words
    const other = await ts.service.http.inject({ method: 'POST', url: `/api/rescue-cases/${caseId}/steps`, headers: auth(), payload: { step: 'acknowledged', note: '维保单位回电确认, 电话占线未及时记录' } });
    expect(other.statusCode, other.body).toBe(200);
    await d.fill('#confirm-note', '维保单位回电确认');
    await d.click('#step-dialog [data-confirm="ok"]');
    await d.waitForFunction(() => document.querySelector('#confirm-error')?.textContent?.includes('不是下一步'), undefined, { timeout: 15_000 });
    await d.click('#step-dialog [data-confirm="cancel"]');
    await d.waitForSelector(`${card}[data-status="acknowledged"]`, { timeout: 15_000 });

    // --- arrival, then only the release: no closing before the passengers are out
    expect(await offered(d, card)).toEqual(['arrived', 'false_alarm']);
    await d.click(`${card} [data-step="arrived"]`);
    await d.click('#step-dialog [data-confirm="ok"]');
    await d.waitForSelector(`${card}[data-status="arrived"]`, { timeout: 15_000 });
    expect(await offered(d, card)).toEqual(['released', 'false_alarm']);

    // --- the release, at an earlier moment than now (never before the arrival), with the passengers and injuries
    const arrivedAt = (await getCase(caseId)).steps.find((s) => s.step === 'arrived')!.at;
    await new Promise((r) => setTimeout(r, 2100));
    await d.click(`${card} [data-step="released"]`);
    await d.waitForSelector('#step-dialog');
    expect(await d.$eval('#confirm-passengersReleased', (e) => (e as HTMLInputElement).value)).toBe('2');
    await d.fill('#confirm-at', cst(arrivedAt - 60_000));
    await d.click('#step-dialog [data-confirm="ok"]');
    expect(await d.textContent('#confirm-error')).toContain('时间不能早于上一步');
    const releasedAt = Math.floor(arrivedAt / 1000) * 1000 + 1000;
    await d.fill('#confirm-at', cst(releasedAt));
    await d.fill('#confirm-injuries', '无');
    await d.click('#step-dialog [data-confirm="ok"]');
    await d.waitForSelector(`${card}[data-status="released"]`, { timeout: 15_000 });
    expect(await offered(d, card)).toEqual(['followed_up', 'closed', 'false_alarm']);

    await d.click(`${card} [data-step="closed"]`);
    await d.click('#step-dialog [data-confirm="ok"]');
    await d.waitForSelector(card, { state: 'detached', timeout: 5000 });
    const row = `#case-history tr[data-case="${caseId}"]`;
    await d.waitForSelector(`${row}[data-status="closed"]`, { timeout: 15_000 });

    const c = await getCase(caseId);
    expect(c.source).toBe('phone');
    expect(c.steps.map((s) => [s.step, s.by])).toEqual([
      ['alarmed', 'disp1'], ['dispatched', 'disp1'], ['acknowledged', 'admin'], ['arrived', 'disp1'], ['released', 'disp1'], ['closed', 'disp1'],
    ]);
    expect(c.steps[1]!.details).toEqual({ unit: ELEVATOR.meta.maintenanceUnit, technician: '王师傅', phone: '138 0000 0000' });
    expect(c.steps[4]!.at).toBe(releasedAt);
    expect(c.steps[4]!.details).toEqual({ passengersReleased: 2, injuries: '无' });
    expect(c.reports!.map((r) => r.callerPhone)).toEqual(['139 0000 1111', '13900002222']);

    // --- the printable report from the history, printed in this window (print stubbed)
    await d.evaluate(() => {
      const w = window as unknown as { __printed: number };
      w.__printed = 0;
      window.print = () => { w.__printed += 1; };
    });
    await d.click(`${row} [data-print]`);
    await d.waitForSelector(`#print-report .report[data-case="${caseId}"]`, { state: 'attached', timeout: 5000 });
    expect(await d.evaluate(() => (window as unknown as { __printed: number }).__printed)).toBe(1);
    const report = (await d.textContent('#print-report'))!;
    for (const text of ['电梯困人救援结案单', caseId, ELEVATOR.name, ELEVATOR.meta.rescueCode, ELEVATOR.meta.registrationCode, ELEVATOR.meta.address,
      ELEVATOR.meta.maintenanceUnit, ELEVATOR.meta.maintenancePhone, '电话', '139 0000 1111', '13900002222', NOTE, '王师傅', '138 0000 0000',
      '已派单', '维保已接单', '维保单位回电确认, 电话占线未及时记录', '已到场', '已解救', '解救人数: 2', '受伤: 无', '已结案', '报警至派单', '报警至到场']) {
      expect(report, text).toContain(text);
    }
    if (escalated) expect(report).toContain('维保接单超时');
    // on paper only the report; on screen it stays out of sight
    expect(await d.isVisible('#print-report')).toBe(false);
    await d.emulateMedia({ media: 'print' });
    expect(await d.isVisible('#print-report')).toBe(true);
    expect(await d.isVisible('#root')).toBe(false);
    await d.screenshot({ path: path.join(out, 'case-report-print-zh.png'), fullPage: true });
    await d.emulateMedia({ media: 'screen' });

    // --- nothing from the call became markup or ran
    expect(await d.evaluate(() => document.querySelectorAll('img, svg, iframe, script:not([src])').length)).toBe(0);
    expect(jsDialogs).toEqual([]);
  });

  it('ends a case as a false alarm only with a reason', async () => {
    const d = await open('disp1', 'disp1-password');
    await d.selectOption('#phone-by', 'elevatorId');
    expect(await d.textContent('label[for="phone-code"]')).toBe('电梯编号');
    await d.fill('#phone-code', 'elev-call-02');
    await d.click('#phone-submit');
    await d.waitForSelector('#phone-msg[data-code="created"]', { timeout: 15_000 });
    const card = '.case:has-text("elev-call-02")';
    await d.waitForSelector(card, { timeout: 15_000 });
    const id = (await d.getAttribute(card, 'data-case'))!;
    expect(await d.textContent(`${card} [data-info="rescueCode"]`)).toBe('33010699999');
    await d.click(`${card} [data-step="false_alarm"]`);
    await d.fill('#confirm-note', '维保到场前来电人称电梯已恢复, 无人被困');
    await d.click('#step-dialog [data-confirm="ok"]');
    await d.waitForSelector(card, { state: 'detached', timeout: 5000 });
    await d.waitForSelector(`#case-history tr[data-case="${id}"][data-status="false_alarm"]`, { timeout: 15_000 });
    const c = await getCase(id);
    expect(c.steps.at(-1)).toMatchObject({ step: 'false_alarm', by: 'disp1', note: '维保到场前来电人称电梯已恢复, 无人被困' });
  });

  it('drills the statistics down from a rate to the rescue case and from a count to the alert', async () => {
    const p = await open('op1', 'op1-password');
    await p.click('[data-nav="stats"]');
    await p.waitForSelector('#stats-tiles');
    const tiles = (await p.textContent('#stats-tiles'))!;
    for (const text of ['及时确认率', '及时处置率', '5分钟派单率', '按时到场率', '系统自动关闭, 不计入', '误报警']) expect(tiles).toContain(text);
    const fig = (where: string, measure: string, outcome = ''): string => `button.fig[data-where="${where}"][data-measure="${measure}"][data-outcome="${outcome}"]`;
    // both cases were dispatched in time; one was a false alarm, counted apart
    expect(await p.textContent(fig('family:elevator', 'dispatch', 'onTime'))).toBe('1');
    expect(await p.textContent(fig('family:elevator', 'dispatch'))).toBe('100.0%');
    expect(await p.textContent(fig('family:elevator', 'cases'))).toBe('2');
    expect(await p.textContent(fig('total', 'falseAlarms'))).toBe('1');
    await p.screenshot({ path: path.join(out, 'stats-rates-zh.png') });
    await p.click(fig('family:elevator', 'dispatch', 'onTime'));
    await p.waitForSelector(`#stats-drill [data-case-id="${caseId}"]`, { timeout: 15_000 });
    expect(await p.textContent('#drill-total')).toContain('共 1 个救援单');
    await p.click(`#stats-drill [data-case-id="${caseId}"]`);
    await p.waitForSelector(`#case-detail .report[data-case="${caseId}"]`, { timeout: 15_000 });
    expect(await p.textContent('#case-detail')).toContain(ELEVATOR.meta.rescueCode);
    await p.screenshot({ path: path.join(out, 'stats-drill-case-zh.png') });
    await p.click('#case-detail button:has-text("关闭")');

    await p.click(fig('district:330106', 'alerts'));
    await p.waitForSelector('#stats-drill [data-alert-id]', { timeout: 15_000 });
    expect(await p.textContent('#drill-total')).toContain('共 2 条告警');
    await p.click('#stats-drill [data-alert-id] >> nth=0');
    await p.waitForSelector('#alert-detail #detail-timeline', { timeout: 15_000 });
    expect(await p.textContent('#alert-detail')).toContain('电梯困人');
    await p.screenshot({ path: path.join(out, 'stats-drill-alert-zh.png') });
    expect(pageErrors).toEqual([]);
    expect(jsDialogs).toEqual([]);
  });
});
