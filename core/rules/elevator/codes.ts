/**
 * Elevator fault and event codes as the 96333 platform receives them from IoT terminals
 * (docs/domain.md §2; GB/T 24476-2023 style uploads [practice]): faults 1-11 as used by
 * regulator uploads, 12-15 added by us, events 40-47.
 *
 * English names are those of docs/domain.md §2, whose Chinese names are 冲顶 (9), 蹲底 (10) and
 * 困人 (11); the others are our translation of the English name for the UI, not quotations
 * from the standard.
 */
import type { Severity } from '../../alerts/types.js';

export type ElevatorCodeKind = 'fault' | 'event';

export interface ElevatorCodeInfo {
  code: number;
  kind: ElevatorCodeKind;
  zh: string;
  en: string;
  /**
   * default severity of the elevator.fault alert; null: elevator.fault raises nothing
   * (11 is elevator.trapped's, 40 resolves)
   */
  severity: Severity | null;
  /** dangerous faults are critical (docs/domain.md §2: dangerous faults 5, 9, 10, 12 are critical) */
  dangerous: boolean;
  /** another rule owns this code */
  handledBy?: string;
}

const f = (code: number, zh: string, en: string, severity: Severity | null, dangerous = false, handledBy?: string): ElevatorCodeInfo =>
  ({ code, kind: 'fault', zh, en, severity, dangerous, ...(handledBy ? { handledBy } : {}) });
const e = (code: number, zh: string, en: string, severity: Severity | null): ElevatorCodeInfo =>
  ({ code, kind: 'event', zh, en, severity, dangerous: false });

export const elevatorCodes: Readonly<Record<number, ElevatorCodeInfo>> = {
  1: f(1, '安全回路断路', 'safety circuit broken', 'major'),
  2: f(2, '门无法关闭', "door won't close", 'major'),
  3: f(3, '门无法打开', "door won't open", 'major'),
  4: f(4, '门区外停梯', 'stopped outside door zone', 'major'),
  5: f(5, '轿厢意外移动', 'unintended car movement', 'critical', true),
  6: f(6, '电动机运转时间限制器动作', 'motor run-time limiter', 'major'),
  7: f(7, '楼层位置丢失', 'floor position lost', 'major'),
  8: f(8, '防止电梯再运行', 'restart prevented', 'major'),
  9: f(9, '冲顶', 'overtravel top', 'critical', true),
  10: f(10, '蹲底', 'bottoming', 'critical', true),
  11: f(11, '困人', 'trapped passenger', null, false, 'elevator.trapped'),
  12: f(12, '超速', 'overspeed', 'critical', true),
  13: f(13, '运行超时', 'run timeout', 'major'),
  14: f(14, '反复开关门', 'repeated door open/close', 'major'),
  15: f(15, '报警按钮', 'alarm button', 'major'),
  40: e(40, '恢复正常', 'back to normal', null),
  // losing mains power can strand a car between floors: major, not info
  41: e(41, '主电源断电', 'mains power lost', 'major'),
  42: e(42, '停止服务', 'out of service', 'info'),
  43: e(43, '检修', 'inspection mode', 'info'),
  44: e(44, '消防返回', 'fire return', 'info'),
  45: e(45, '消防员操作', 'firefighter mode', 'info'),
  46: e(46, '应急电源运行', 'emergency power', 'info'),
  47: e(47, '地震运行', 'earthquake mode', 'info'),
};

export const BACK_TO_NORMAL = 40;
export const TRAPPED_CODE = 11;
