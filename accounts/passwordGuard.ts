/**
 * The one limiter in front of every password check, HTTP login and MQTT CONNECT of a
 * dashboard account alike (docs/security.md, Password checks).
 *
 * An attempt is counted when it is admitted, before the hash runs, so parallel attempts cannot
 * slip past a count made after scrypt returns. It is keyed so that an attacker cannot lock the
 * real user out from elsewhere:
 * - per (username, address): `maxPerUserAddress` failures in the window, then refused there;
 * - per address, over all usernames: `maxPerAddress` failures (stops one address spraying
 *   names); an IPv6 address counts by its /64, which one subscriber usually holds whole;
 * - names that do not exist draw on one budget for the whole service (`unknownPerMinute`);
 *   past it they are answered without a hash (see Users.check), so a flood of made-up names
 *   costs no CPU.
 * A success clears its (username, address) count and gives its own attempt back.
 */
const WINDOW_MS = 15 * 60 * 1000;
const UNKNOWN_WINDOW_MS = 60 * 1000;
/** keys remembered at most; past this the oldest are forgotten (bounded memory) */
const MAX_KEYS = 100_000;

export interface PasswordGuardOptions {
  maxPerUserAddress: number;
  maxPerAddress: number;
  unknownPerMinute: number;
}

export type Admission = { ok: true; ticket: Ticket } | { ok: false; retryAfterS: number };

export interface Ticket {
  readonly userKey: string;
  readonly addressKey: string;
  readonly at: number;
}

export class PasswordGuard {
  private readonly attempts = new Map<string, number[]>();
  private unknown: number[] = [];

  constructor(private readonly opts: PasswordGuardOptions, private readonly now: () => number = Date.now) {}

  /** Count an attempt now; refused with the seconds to wait when a limit is reached. */
  admit(username: string, address: string | null): Admission {
    const addressKey = 'a\n' + addressGroup(address);
    const userKey = 'u\n' + username.toLowerCase() + '\n' + addressGroup(address);
    const wait = Math.max(this.wait(userKey, this.opts.maxPerUserAddress), this.wait(addressKey, this.opts.maxPerAddress));
    if (wait > 0) return { ok: false, retryAfterS: wait };
    const at = this.now();
    this.push(userKey, at);
    this.push(addressKey, at);
    return { ok: true, ticket: { userKey, addressKey, at } };
  }

  /** The outcome of an admitted attempt: a success forgets the pair's failures and its own attempt. */
  settle(ticket: Ticket, success: boolean): void {
    if (!success) return;
    this.attempts.delete(ticket.userKey);
    const list = this.attempts.get(ticket.addressKey);
    const i = list?.indexOf(ticket.at) ?? -1;
    if (list && i >= 0) list.splice(i, 1);
  }

  /** Take one hash for a name that does not exist from the service-wide budget; false when spent. */
  spendUnknown(): boolean {
    const cutoff = this.now() - UNKNOWN_WINDOW_MS;
    this.unknown = this.unknown.filter((t) => t > cutoff);
    if (this.unknown.length >= this.opts.unknownPerMinute) return false;
    this.unknown.push(this.now());
    return true;
  }

  /** Remembered keys (for /metrics and tests of the bound). */
  get size(): number {
    return this.attempts.size;
  }

  private wait(key: string, max: number): number {
    const list = this.recent(key);
    if (list.length < max) return 0;
    return Math.max(1, Math.ceil((list[list.length - max]! + WINDOW_MS - this.now()) / 1000));
  }

  private push(key: string, at: number): void {
    const list = this.recent(key);
    list.push(at);
    // re-inserted last, so the Map's order is least recently attempted first
    this.attempts.delete(key);
    this.attempts.set(key, list);
    if (this.attempts.size > MAX_KEYS) this.prune();
  }

  private recent(key: string): number[] {
    const cutoff = this.now() - WINDOW_MS;
    const list = this.attempts.get(key);
    if (!list) return [];
    let i = 0;
    while (i < list.length && list[i]! <= cutoff) i++;
    if (i) list.splice(0, i);
    if (!list.length) this.attempts.delete(key);
    return list;
  }

  private prune(): void {
    for (const key of [...this.attempts.keys()]) this.recent(key);
    for (const key of this.attempts.keys()) {
      if (this.attempts.size <= MAX_KEYS * 0.9) break;
      this.attempts.delete(key);
    }
  }
}

/** The address an attempt is counted under: IPv4 as it is, IPv6 by its /64. */
export function addressGroup(address: string | null): string {
  if (!address) return '?';
  const a = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  if (!a.includes(':')) return a;
  const [head, tail] = a.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail !== undefined && tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return groups.slice(0, 4).map((g) => (parseInt(g || '0', 16) || 0).toString(16)).join(':') + '::/64';
}
