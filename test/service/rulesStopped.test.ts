/**
 * The rules' worker thread stopping on its own (ENGINE_WORKER): the service says so once
 * (onFatal, which main.ts turns into a stop and exit 70 for the supervisor), and its stop
 * still closes everything, the store included, although the last checkpoint cannot be made;
 * the next start replays and the alerts are whole.
 */
import { describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { startService } from '../helpers/service.js';

describe('the rules\' worker thread stopping', () => {
  it('is fatal once; the stop closes the store; the next start raises what the lost worker did not', async () => {
    const first = await startService();
    const fatal: Error[] = [];
    first.service.onFatal((err) => fatal.push(err));
    const d = await first.registerDevice({ id: 'rs-disp', family: 'dispenser' });
    await first.service.engine!.stopRulesWorkerForTest();
    await expect.poll(() => fatal.length).toBe(1);
    expect(fatal[0]!.message).toMatch(/rules' worker thread stopped/);
    // acknowledged (journaled) while no rule runs
    const c = await first.connectDevice(d.id, d.secret);
    await c.publishAsync(`dispenser/${d.id}/tamper`, JSON.stringify({ ...examplePayload('dispenser', 'tamper', 'rs-1', Date.now()), kind: 'seal_open' }), { qos: 1 });
    await c.endAsync();
    expect(first.service.engine!.activeAlerts()).toHaveLength(0);
    await first.stop();
    expect(fatal).toHaveLength(1);

    const second = await startService({}, first.dataDir);
    try {
      expect(second.service.engine!.activeAlerts().map((a) => [a.rule, a.device.id])).toEqual([['dispenser.tamper', d.id]]);
    } finally {
      await second.dispose();
    }
  }, 60_000);
});
