/**
 * One valid example payload per (family, channel). Used by the minimal device client,
 * the docs and the tests; the schema tests prove each one validates.
 */
import type { Family } from './common.js';

export type ExamplePayload = Record<string, unknown>;

export function examplePayload(family: Family, channel: string, msgId: string, ts: number | string): ExamplePayload {
  const base = { msgId, ts };
  switch (`${family}/${channel}`) {
    case 'kitchen/heartbeat':
    case 'elevator/heartbeat':
    case 'cylinder/heartbeat':
    case 'dispenser/heartbeat':
      return { ...base, fw: '1.4.2', rssi: -61, uptimeS: 86_400 };
    case 'kitchen/violation':
      return { ...base, storeId: 'S-0001', type: 'no_chef_hat', confidence: 0.87, area: 'hot kitchen', snapshotUrl: 'https://cam.example/snap/1.jpg', bbox: [0.1, 0.2, 0.3, 0.6] };
    case 'elevator/status':
      return { ...base, floor: 7, doorZone: true, doorClosed: true, moving: false, direction: 'stop', speedMps: 0, passengerPresent: true, serviceMode: 'normal', powerOk: true };
    case 'elevator/fault':
      return { ...base, code: 2, floor: 7, detail: 'door failed to close 3 times' };
    case 'cylinder/scan':
      return { ...base, cylinderCode: 'LPG-330106-000123', stationId: 'ST-01', point: 'post_fill', operatorId: 'OP-7', netKg: 14.4, residualPressureMpa: 0.1 };
    case 'dispenser/txn':
      return { ...base, stationId: 'FS-01', dispenserId: 'D-3', nozzle: 2, grade: '92', volumeL: 40, amountYuan: 300.4, unitPrice: 7.51, totalizerL: 123_456.78, durationS: 60, pulses: 4000, pulsesPerL: 100, tankId: 'T-1' };
    case 'dispenser/tank':
      return { ...base, stationId: 'FS-01', tankId: 'T-1', grade: '92', volumeL: 18_250.5, tempC: 18.2, waterMm: 3 };
    case 'dispenser/tamper':
      return { ...base, stationId: 'FS-01', dispenserId: 'D-3', kind: 'seal_open' };
    default:
      throw new Error(`no example for ${family}/${channel}`);
  }
}
