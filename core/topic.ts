/**
 * Topic grammar of docs/protocol.md: `{family}/{deviceId}/{channel}`, where a platform -> device
 * channel may have two levels (`scan/reply`).
 */
import { deviceIdPattern, isFamily, type Family } from './schemas/index.js';

export interface DeviceTopic {
  family: Family;
  deviceId: string;
  channel: string;
}

/** Parse a device topic; null when it is not of the form family/deviceId/channel[/sub]. */
export function parseDeviceTopic(topic: string): DeviceTopic | null {
  const first = topic.indexOf('/');
  if (first <= 0) return null;
  const second = topic.indexOf('/', first + 1);
  if (second < 0 || second === topic.length - 1) return null;
  const family = topic.slice(0, first);
  const deviceId = topic.slice(first + 1, second);
  const channel = topic.slice(second + 1);
  if (!isFamily(family) || !deviceIdPattern.test(deviceId)) return null;
  // channel: one or two non-empty levels of [a-z_]
  if (!/^[a-z_]{1,32}(\/[a-z_]{1,32})?$/.test(channel)) return null;
  return { family, deviceId, channel };
}

export const errorTopic = (family: Family, deviceId: string): string => `${family}/${deviceId}/error`;
export const scanReplyTopic = (deviceId: string): string => `cylinder/${deviceId}/scan/reply`;
