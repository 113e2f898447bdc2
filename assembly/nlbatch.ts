// The netlink buffers: a receive area for many datagrams read at once
// (recvmmsg), and a batch of requests sent to the kernel in one go.
import { putCt, putExp, putDump, putFlush } from "./ctnetlink";
import { appendVerdict } from "./reasons";

export const NL_RX_SIZE: u32 = 4 << 20;
export const NL_TX_SIZE: u32 = 1 << 20;
export const nlRx = memory.data(<i32>NL_RX_SIZE, 16);
export const nlTx = memory.data(<i32>NL_TX_SIZE, 16);
let used: u32 = 0;
// One batch is one sendmsg: it must stay within the socket's send buffer
// (net.core.wmem_default is 208 KiB), so batches stop at this size.
let limit: u32 = 128 << 10;

export function batchSetLimit(bytes: u32): void { limit = min<u32>(bytes, NL_TX_SIZE); }

export function batchLen(): u32 { return used; }
export function batchClear(): void { used = 0; }

/** Counts what an encoder wrote; see appendVerdict. */
function appended(n: i32): i32 {
  const v = appendVerdict(n, used == 0);
  if (v == 1) used += <u32>n;
  return v;
}

export function batchCt(rec: usize, op: u32, opts: u32, seq: u32): i32 {
  return appended(putCt(rec, nlTx + used, nlTx + limit, op, opts, seq));
}

export function batchExp(rec: usize, op: u32, opts: u32, seq: u32): i32 {
  return appended(putExp(rec, nlTx + used, nlTx + limit, op, opts, seq));
}

export function batchDump(table: u32, family: u32, seq: u32): i32 {
  return appended(putDump(nlTx + used, nlTx + limit, table, family, seq));
}

export function batchFlush(table: u32, family: u32, seq: u32): i32 {
  return appended(putFlush(nlTx + used, nlTx + limit, table, family, seq));
}
