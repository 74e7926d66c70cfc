/**
 * Dead letters in PostgreSQL, with the semantics of store/duckdb/deadLetters.ts: written with
 * the readings' batch (readings.ts, insertDeadLetters), read here newest first.
 *
 * A dead letter keeps its node's number (`node_letter_id`, what the node's lastSequences
 * continues from) and gets an id of the whole cluster (`id`, an identity, in batch order):
 * that is the DeadLetter.id read back, what the API pages by (`before`) and selects (`ids`).
 */
import type { DeadLetter, DeadLetterQuery, DeadLetterRepository } from '../types.js';
import { ms, num, unnest, type PostgresDatabase, type Row, type Sql } from './database.js';
import { fromPgText, fromPgTextOrNull, toPgText, toPgTextOrNull } from './text.js';

const LETTER_COLUMNS = 'node_id, node_letter_id, received_at, device_id, client_id, topic, qos, reason, detail, issues, msg_id, raw, raw_size, remote_address';
/** The identity is drawn as rows are inserted: ordered by their place in the batch, so cluster ids follow it. */
const INSERT_LETTERS = `INSERT INTO dead_letters (${LETTER_COLUMNS})
  SELECT ${LETTER_COLUMNS} FROM ${unnest(['text', 'int8', 'int8', 'text', 'text', 'text', 'int2', 'text', 'text', 'text', 'text', 'bytea', 'int4', 'text'])}
    WITH ORDINALITY AS u(${LETTER_COLUMNS}, place) ORDER BY place`;

export class PgDeadLetters implements DeadLetterRepository {
  constructor(private readonly db: PostgresDatabase) {}

  async list(q: DeadLetterQuery): Promise<DeadLetter[]> {
    if (q.ids !== undefined && q.ids.length === 0) return [];
    const where: string[] = [];
    const params: unknown[] = [];
    /** The placeholder of a new parameter: the SQL holds only `$n`, never a value. */
    const param = (v: unknown): string => `$${params.push(v)}`;
    if (q.deviceId !== undefined) where.push(`device_id = ${param(toPgText(q.deviceId))}`);
    if (q.reason !== undefined) where.push(`reason = ${param(toPgText(q.reason))}`);
    // a scoped account's: only those naming a registered device of the district (accounts/scope.ts)
    if (q.district !== undefined) where.push(`device_id IN (SELECT id FROM devices WHERE starts_with(coalesce(district, ''), ${param(q.district)}))`);
    if (q.since !== undefined) where.push(`received_at >= ${param(ms(q.since))}`);
    if (q.until !== undefined) where.push(`received_at < ${param(ms(q.until))}`);
    if (q.before !== undefined) where.push(`id < ${param(ms(q.before))}`);
    if (q.ids !== undefined) where.push(`id = ANY(${param(q.ids.map(ms))}::int8[])`);
    const rows = await this.db.rows(`SELECT id, received_at, device_id, client_id, topic, qos, reason, detail, issues, msg_id, raw, raw_size, remote_address
      FROM dead_letters ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ${param(q.limit)}`, params);
    return rows.map(toDeadLetter);
  }

  async count(): Promise<number> {
    return num((await this.db.rows('SELECT count(*) AS n FROM dead_letters'))[0]?.n ?? 0);
  }
}

/**
 * A batch's dead letters, in the batch's transaction, in one statement of array parameters:
 * the cluster ids are drawn in batch order. A node number stored twice fails the statement,
 * and the batch with it.
 */
export async function insertDeadLetters(c: Sql, nodeId: string, letters: readonly DeadLetter[]): Promise<void> {
  const col = <T>(f: (d: DeadLetter) => T): T[] => letters.map(f);
  await c.query(INSERT_LETTERS, [
    col(() => toPgText(nodeId)), col((d) => ms(d.id)), col((d) => ms(d.receivedAt)), col((d) => toPgTextOrNull(d.deviceId)),
    col((d) => toPgTextOrNull(d.clientId)), col((d) => toPgText(d.topic)), col((d) => d.qos), col((d) => toPgText(d.reason)),
    col((d) => toPgText(d.detail)), col((d) => (d.issues ? toPgText(JSON.stringify(d.issues)) : null)), col((d) => toPgTextOrNull(d.msgId)),
    col((d) => Buffer.from(d.raw.buffer, d.raw.byteOffset, d.raw.byteLength)), col((d) => d.rawSize), col((d) => toPgTextOrNull(d.remoteAddress)),
  ]);
}

function toDeadLetter(r: Row): DeadLetter {
  return {
    id: num(r.id),
    receivedAt: num(r.received_at),
    deviceId: fromPgTextOrNull(r.device_id),
    clientId: fromPgTextOrNull(r.client_id),
    topic: fromPgText(String(r.topic)),
    qos: Number(r.qos),
    reason: fromPgText(String(r.reason)),
    detail: fromPgText(String(r.detail)),
    issues: r.issues ? JSON.parse(fromPgText(String(r.issues))) as DeadLetter['issues'] : null,
    msgId: fromPgTextOrNull(r.msg_id),
    raw: new Uint8Array(r.raw as Buffer),
    rawSize: Number(r.raw_size),
    remoteAddress: fromPgTextOrNull(r.remote_address),
  };
}
