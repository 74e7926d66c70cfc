/** A rescue case as the dispatcher's console shows it, for the HTTP answers and the /ws push alike. */
import type { DeviceRecord } from '../store/types.js';

/** What the dispatcher's card shows of the elevator, from the registry (text, never HTML). */
export function elevatorCard(d: DeviceRecord | undefined): Record<string, unknown> | null {
  if (!d) return null;
  const m = d.meta;
  const pick = (k: string) => (typeof m[k] === 'string' || typeof m[k] === 'number' ? m[k] : null);
  return {
    name: d.name, district: d.district, location: d.location, address: pick('address'), rescueCode: pick('rescueCode'), registrationCode: pick('registrationCode'),
    maintenanceUnit: pick('maintenanceUnit'), maintenancePhone: pick('maintenancePhone'),
  };
}

