/** Dead letters in DuckDB: written with the readings' batch (readings.ts), read here. */
import type { DuckDBAppender, DuckDBValue } from '@duckdb/node-api';
import type { DeadLetter, DeadLetterQuery, DeadLetterRepository } from '../types.js';
import type { DuckDbDatabase } from './database.js';
import { all, appendNullable, appendTs, blobBytes, strOrNull } from './sql.js';

export class DuckDbDeadLetters implements DeadLetterRepository {
  constructor(private readonly db: DuckDbDatabase) {}

  list(q: DeadLetterQuery): Promise<DeadLetter[]> {
    return this.db.read(async (c) => {
      const where: string[] = [];
      const params: DuckDBValue[] = [];
      if (q.deviceId !== undefined) { where.push('device_id = ?'); params.push(q.deviceId); }
      if (q.reason !== undefined) { where.push('reason = ?'); params.push(q.reason); }
      // a scoped account's: only those naming a registered device of the district (accounts/scope.ts)
      if (q.district !== undefined) { where.push('device_id IN (SELECT id FROM devices WHERE starts_with(coalesce(district, \'\'), ?))'); params.push(q.district); }
      if (q.since !== undefined) { where.push('received_at >= epoch_ms(?::BIGINT)'); params.push(q.since); }
      if (q.until !== undefined) { where.push('received_at < epoch_ms(?::BIGINT)'); params.push(q.until); }
      if (q.before !== undefined) { where.push('id < ?::BIGINT'); params.push(q.before); }
      if (q.ids !== undefined) {
        if (q.ids.length === 0) return [];
        where.push(`id IN (${q.ids.map(() => '?::BIGINT').join(', ')})`);
        params.push(...q.ids);
      }
      params.push(q.limit);
      const rows = await all(c, `SELECT id::DOUBLE AS id, epoch_ms(received_at)::DOUBLE AS received_at, device_id, client_id, topic, qos,
        reason, detail, issues, msg_id, raw, raw_size, remote_address FROM dead_letters
        ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`, params);
      return rows.map((r) => ({
        id: Number(r.id),
        receivedAt: Number(r.received_at),
        deviceId: strOrNull(r.device_id),
        clientId: strOrNull(r.client_id),
        topic: String(r.topic),
        qos: Number(r.qos),
        reason: String(r.reason),
        detail: String(r.detail),
        issues: r.issues ? JSON.parse(String(r.issues)) as DeadLetter['issues'] : null,
        msgId: strOrNull(r.msg_id),
        raw: blobBytes(r.raw),
        rawSize: Number(r.raw_size),
        remoteAddress: strOrNull(r.remote_address),
      }));
    });
  }

  count(): Promise<number> {
    return this.db.read(async (c) => Number((await all(c, 'SELECT count(*)::DOUBLE AS n FROM dead_letters'))[0]?.n ?? 0));
  }
}

/** One dead letter as a row of the `dead_letters` appender, in table order. */
export function appendDeadLetter(a: DuckDBAppender, d: DeadLetter): void {
  a.appendBigInt(BigInt(d.id));
  appendTs(a, d.receivedAt);
  appendNullable(a, d.deviceId);
  appendNullable(a, d.clientId);
  a.appendVarchar(d.topic);
  a.appendTinyInt(d.qos);
  a.appendVarchar(d.reason);
  a.appendVarchar(d.detail);
  appendNullable(a, d.issues ? JSON.stringify(d.issues) : null);
  appendNullable(a, d.msgId);
  a.appendBlob(d.raw);
  a.appendInteger(d.rawSize);
  appendNullable(a, d.remoteAddress);
  a.endRow();
}
