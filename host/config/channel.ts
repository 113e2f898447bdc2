// Sync.Multicast, Sync.UDP and Sync.TCP: the dedicated links. Each block is
// one channel; up to four of one kind make redundant links, "Default" marks
// the one used first.
import type { ConfigReader } from "./reader.ts";
import type { Token } from "./lexer.ts";
import { readBlock, section, type Handler } from "./block.ts";
import { DEFAULTS } from "./defaults.ts";
import { warnUnimplemented } from "./unimplemented.ts";
import type { Channel, SyncConfig } from "./types.ts";

type Kind = Exclude<Channel["type"], "corosync">;

const NAME: Record<Channel["type"], string> = { multicast: "Multicast", udp: "UDP", tcp: "TCP", corosync: "Corosync" };

/** The channel while its block is read: family and addresses arrive in any order. */
interface Draft {
  line: number;
  type: Kind;
  isDefault: boolean;
  family: 4 | 6 | null;
  familySetBy: Token | null;
  address: string | null;
  destination: string | null;
  ipv4Interface: string | null;
  interface: string | null;
  port: number;
  sndSocketBuffer: number | null;
  rcvSocketBuffer: number | null;
  checksum: boolean;
  errorQueueLength: number | null;
}

/** Reads "Multicast|UDP|TCP [Default] { ... }" after its keyword into sync.channels. */
export function readChannel(r: ConfigReader, kw: Token, sync: SyncConfig, type: Kind): void {
  checkKindAndCount(r, kw, sync, type);
  const isDefault = r.peek()?.text === "Default";
  if (isDefault) r.next();
  const d = newDraft(kw.line, type, isDefault);
  readBlock(r, kw, SECTIONS[type], d);
  sync.channels.push(finish(r, kw, d));
  if (d.errorQueueLength !== null) sync.errorQueueLength = d.errorQueueLength;
}

const GROUP_NAME = /^[A-Za-z0-9._-]{1,126}$/;

/**
 * Reads "Corosync { Group name }" (ctsync's own): one process group, the only
 * link of its section (corosync has its own redundant rings).
 */
export function readCorosync(r: ConfigReader, kw: Token, sync: SyncConfig): void {
  checkKindAndCount(r, kw, sync, "corosync");
  if (sync.channels.length) r.fail(kw.line, `only one Corosync block is allowed (line ${sync.channels[0].line}): corosync's own rings give redundancy`);
  if (r.peek()?.text === "Default") r.next();
  const d = { group: "ctsync" };
  readBlock(r, kw, COROSYNC, d);
  sync.channels.push({
    type: "corosync", line: kw.line, isDefault: true, group: d.group,
    interface: null, sndSocketBuffer: null, rcvSocketBuffer: null, checksum: true,
  });
}

const COROSYNC = section<{ group: string }>("Sync.Corosync", {
  Group(r, kw, d) {
    const t = r.word(kw, "a process group name");
    if (!GROUP_NAME.test(t.text)) r.fail(kw.line, `"${t.text}" is not a Corosync group name (1 to 126 letters, digits, ".", "_" or "-")`);
    d.group = t.text;
  },
});

function checkKindAndCount(r: ConfigReader, kw: Token, sync: SyncConfig, type: Channel["type"]): void {
  const other = sync.channels.find((c) => c.type !== type);
  if (other) {
    r.fail(kw.line, `cannot use ${NAME[type]} with ${NAME[other.type]} dedicated links (line ${other.line}): all links must be of one kind`);
  }
  if (sync.channels.length >= DEFAULTS.maxChannels) {
    r.fail(kw.line, `too many dedicated links: at most ${DEFAULTS.maxChannels} are allowed`);
  }
}

function newDraft(line: number, type: Kind, isDefault: boolean): Draft {
  return {
    line, type, isDefault, family: null, familySetBy: null, address: null, destination: null,
    ipv4Interface: null, interface: null, port: 0, sndSocketBuffer: null, rcvSocketBuffer: null,
    checksum: true, errorQueueLength: null,
  };
}

function finish(r: ConfigReader, kw: Token, d: Draft): Channel {
  const name = NAME[d.type];
  const common = {
    line: d.line, isDefault: d.isDefault, interface: d.interface,
    sndSocketBuffer: d.sndSocketBuffer, rcvSocketBuffer: d.rcvSocketBuffer, checksum: d.checksum,
  };
  if (d.type === "multicast") {
    if (!d.address || !d.family) r.fail(kw.line, "Multicast link has no IPv4_address or IPv6_address (the group address)");
    if (d.port === 0) r.warn(kw.line, "Multicast link has no Group: conntrackd would use port 0, which peers cannot reach");
    return { ...common, type: "multicast", family: d.family, address: d.address, ipv4Interface: d.ipv4Interface, port: d.port };
  }
  if (!d.family) r.fail(kw.line, `${name} link has no address: give IPv4_address and IPv4_Destination_Address (or the IPv6 ones)`);
  if (!d.destination) r.warn(kw.line, `${name} link has no IPv${d.family}_Destination_Address: nothing can be sent to the peer`);
  if (d.port === 0) r.warn(kw.line, `${name} link has no Port: conntrackd would use port 0, which peers cannot reach (3780 is customary)`);
  return { ...common, type: d.type, family: d.family, address: d.address, destination: d.destination, port: d.port };
}

/** One link speaks one address family: refuse a second. */
function setFamily(r: ConfigReader, kw: Token, d: Draft, family: 4 | 6): void {
  if (d.family && d.family !== family) {
    const by = d.familySetBy!;
    r.fail(kw.line, `${kw.text} mixes IPv${family} into a link already using IPv${d.family} (${by.text} at line ${by.line})`);
  }
  d.family = family;
  d.familySetBy = kw;
}

const INTERFACE_NAME = /^[a-zA-Z][a-zA-Z0-9._-]*$/; // what conntrackd's lexer reads as a name

const common: Record<string, Handler<Draft>> = {
  Interface(r, kw, d) {
    const t = r.word(kw, "an interface name");
    if (!INTERFACE_NAME.test(t.text)) r.fail(kw.line, `"${t.text}" is not a valid interface name`);
    if (t.text.length > DEFAULTS.maxInterfaceName) {
      r.fail(kw.line, `interface name "${t.text}" is longer than ${DEFAULTS.maxInterfaceName} characters`);
    }
    d.interface = t.text;
  },
  SndSocketBuffer(r, kw, d) {
    d.sndSocketBuffer = r.number(kw) || null; // 0 keeps the system default, as in conntrackd
  },
  RcvSocketBuffer(r, kw, d) {
    d.rcvSocketBuffer = r.number(kw) || null;
  },
  Checksum(r, kw, d) {
    d.checksum = r.bool(kw);
  },
};

/** The link's own address (unicast: where we listen; multicast: the group), either family. */
const ownAddress: Record<string, Handler<Draft>> = {
  IPv4_address(r, kw, d) {
    d.address = r.ipv4(kw);
    setFamily(r, kw, d, 4);
  },
  IPv6_address(r, kw, d) {
    d.address = r.ipv6(kw);
    setFamily(r, kw, d, 6);
  },
};

const unicast: Record<string, Handler<Draft>> = {
  ...common,
  ...ownAddress,
  IPv4_Destination_Address(r, kw, d) {
    d.destination = r.ipv4(kw);
    setFamily(r, kw, d, 4);
  },
  IPv6_Destination_Address(r, kw, d) {
    d.destination = r.ipv6(kw);
    setFamily(r, kw, d, 6);
  },
  Port(r, kw, d) {
    d.port = r.numberIn(kw, 0, 65535);
  },
};

const SECTIONS: Record<Kind, ReturnType<typeof section<Draft>>> = {
  multicast: section<Draft>("Sync.Multicast", {
    ...common,
    ...ownAddress,
    IPv4_interface(r, kw, d) {
      d.ipv4Interface = r.ipv4(kw);
      setFamily(r, kw, d, 4);
    },
    IPv6_interface(r, kw) {
      r.ipv6(kw);
      warnUnimplemented(r, kw, "IPv6_interface");
    },
    Group(r, kw, d) {
      d.port = r.numberIn(kw, 0, 65535);
    },
  }),
  udp: section<Draft>("Sync.UDP", unicast),
  tcp: section<Draft>("Sync.TCP", {
    ...unicast,
    ErrorQueueLength(r, kw, d) {
      d.errorQueueLength = r.number(kw) || DEFAULTS.errorQueueLength;
    },
  }),
};
