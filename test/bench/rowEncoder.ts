/**
 * The tile_requests row encoder as the store currently implements it, resolved at run time so the benchmark
 * follows the code it measures: `writeTileRequestRow(TsvBuffer, …)` (rows appended to a byte buffer) when
 * services/store/tileRequestRows.ts exports it, else the older `tileRequestRow(…)` (one JS string per row,
 * concatenated per batch).
 */
import type { AccessRecord, Lineage, TileRequest } from '../../services/core/types.ts';

export interface RowEncoder {
  /** 'buffer' (TsvBuffer) or 'string' (string concatenation). */
  readonly mode: 'buffer' | 'string';
  add(rec: AccessRecord, req: TileRequest, lineage: Lineage, clientKey: string): void;
  /** The batch so far (Buffer in buffer mode, string in string mode) and a reset. */
  cut(): { payload: Buffer | string; rows: number };
}

type RowFn = (rec: AccessRecord, req: TileRequest, lineage: Lineage, clientKey: string) => string;
type WriteFn = (out: unknown, rec: AccessRecord, req: TileRequest, lineage: Lineage, clientKey: string) => void;
interface TsvBufferLike {
  rows: number;
  take(): Buffer;
}

export async function loadRowEncoderFactory(): Promise<{ mode: RowEncoder['mode']; create: () => RowEncoder }> {
  const rowsMod = (await import('../../services/store/tileRequestRows.ts')) as unknown as Record<string, unknown>;
  if (typeof rowsMod.writeTileRequestRow === 'function') {
    const write = rowsMod.writeTileRequestRow as WriteFn;
    // A variable specifier: the module may not exist in older checkouts (typecheck stays independent of it).
    const spec = '../../services/store/tsvBuffer.ts';
    const { TsvBuffer } = (await import(spec)) as { TsvBuffer: new () => TsvBufferLike };
    return {
      mode: 'buffer',
      create: () => {
        const out = new TsvBuffer();
        let rows = 0;
        return {
          mode: 'buffer',
          add: (rec, req, lineage, key) => {
            write(out, rec, req, lineage, key);
            rows++;
          },
          cut: () => {
            const r = { payload: out.take(), rows };
            rows = 0;
            return r;
          },
        };
      },
    };
  }
  if (typeof rowsMod.tileRequestRow === 'function') {
    const row = rowsMod.tileRequestRow as RowFn;
    return {
      mode: 'string',
      create: () => {
        let s = '';
        let rows = 0;
        return {
          mode: 'string',
          add: (rec, req, lineage, key) => {
            s += row(rec, req, lineage, key);
            rows++;
          },
          cut: () => {
            const r = { payload: s, rows };
            s = '';
            rows = 0;
            return r;
          },
        };
      },
    };
  }
  throw new Error('services/store/tileRequestRows.ts exports neither writeTileRequestRow nor tileRequestRow');
}
