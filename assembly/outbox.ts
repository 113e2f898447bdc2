// The outbox: datagrams ready for the dedicated link, each prefixed with its
// length (u32 LE). The sync engine packs messages into the open datagram the
// way conntrackd packs its buffer, opens a new one when the next message would
// not fit, and the host sends them all after each call into the engine.
const OUT_SIZE: u32 = 1 << 20;
const out = memory.data(<i32>OUT_SIZE, 8);

let closed: u32 = 0; //   bytes of finished datagrams, prefixes included
let open: u32 = 0; //     bytes in the open datagram
let payload: u32 = 1472; // datagram payload size (link MTU less headers)

export function outPtr(): usize { return out; }

/** Closes the open datagram and returns the byte length of the outbox. */
export function outLen(): u32 {
  closeOpen();
  return closed;
}

export function outClear(): void {
  closed = 0;
  open = 0;
}

export function outSetPayload(size: u32): void {
  payload = max<u32>(min<u32>(size, 65535), 64);
}

function closeOpen(): void {
  if (open == 0) return;
  store<u32>(out + closed, open);
  closed += 4 + open;
  open = 0;
}

/**
 * Room for a message of `len` bytes: a pointer to write it at, or 0 when the
 * outbox is full (the host must send what is there first). conntrackd adds a
 * message while buffer length + message length stays below the payload size.
 */
export function outReserve(len: u32): usize {
  if (open != 0 && open + len >= payload) closeOpen();
  if (closed + 4 + open + len > OUT_SIZE) return 0;
  const p = out + closed + 4 + open;
  open += len;
  return p;
}
