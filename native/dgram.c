// The sync link's UDP sockets (Sync.UDP, Sync.Multicast), part of the
// ctsync_netlink addon as its `dgram` object. Readiness comes from the
// addon's poll(fd, callback) and the socket is closed by its close(fd), as
// for the netlink socket.
//
// Why not node:dgram: it makes one callback, one Buffer and one address
// string per datagram, cannot force a buffer size past net.core.rmem_max as
// conntrackd does (SO_RCVBUFFORCE) and cannot turn checksums off
// (SO_NO_CHECK). Here recvmmsg() reads a batch of datagrams with their
// senders in one call and sendmmsg() sends a batch in one call.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <unistd.h>

#include "napi-util.h"

#ifndef SO_NO_CHECK
#define SO_NO_CHECK 11
#endif

#define DG_BATCH_MAX 256
// Per datagram received, recvMany writes META_WORDS u32 into `meta`:
// length (the real one: more than the slot when truncated), family (4/6),
// source port, then the source address as 16 bytes (IPv4 in the first 4).
#define META_WORDS 7

// "10.0.0.1", "fe80::1%eth1" (a zone names the interface) or "" (any) into
// a sockaddr of the family; 0 or an errno (EINVAL: not an address, ENODEV:
// no such interface).
static int parse_addr(const char *s, int family, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (family == 4) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    *len = sizeof *a;
    if (!*s) return 0;
    return inet_pton(AF_INET, s, &a->sin_addr) == 1 ? 0 : EINVAL;
  }
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
  a->sin6_family = AF_INET6;
  a->sin6_port = htons((uint16_t)port);
  *len = sizeof *a;
  char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  snprintf(host, sizeof host, "%s", s);
  char *zone = strchr(host, '%');
  if (zone) {
    *zone++ = 0;
    if (!(a->sin6_scope_id = if_nametoindex(zone))) return ENODEV;
  }
  if (!*host) return 0;
  return inet_pton(AF_INET6, host, &a->sin6_addr) == 1 ? 0 : EINVAL;
}

// A string argument into buf; 0 when it is not a string or too long.
static int arg_str(napi_env env, napi_value v, char *buf, size_t size) {
  size_t n;
  return napi_get_value_string_utf8(env, v, buf, size, &n) == napi_ok && n < size - 1;
}

static int arg_family(napi_env env, napi_value v, int *family) {
  int64_t f;
  if (!arg_int(env, v, &f) || (f != 4 && f != 6)) {
    throw_range(env, "ctsync_netlink dgram: family must be 4 or 6");
    return 0;
  }
  *family = (int)f;
  return 1;
}

static int setint(int fd, int level, int opt, int v) {
  return setsockopt(fd, level, opt, &v, sizeof v) == 0 ? 0 : errno;
}

// open(family, address, port, reuseAddr) -> fd of a non-blocking UDP socket
// bound to address ("" any, a zone for link-local) and port (0: any).
static napi_value Open(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  int family;
  int64_t port;
  bool reuse = false;
  char addr[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  if (argc < 3 || !arg_family(env, argv[0], &family)) return argc < 3 ? throw_type(env, "ctsync_netlink dgram.open(family, address, port, reuseAddr)") : NULL;
  if (!arg_str(env, argv[1], addr, sizeof addr)) return throw_type(env, "ctsync_netlink dgram.open: address must be a string");
  if (!arg_int(env, argv[2], &port) || port < 0 || port > 65535) return throw_range(env, "ctsync_netlink dgram.open: port out of range");
  if (argc >= 4) napi_get_value_bool(env, argv[3], &reuse);
  struct sockaddr_storage ss;
  socklen_t len;
  int err = parse_addr(addr, family, (int)port, &ss, &len);
  if (err) return throw_errno(env, "bind", err);
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  // A v6 socket carries v6 only, as Node's udp6 bound to an address does.
  if ((family == 6 && (err = setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1))) ||
      (reuse && (err = setint(fd, SOL_SOCKET, SO_REUSEADDR, 1))) ||
      (bind(fd, (struct sockaddr *)&ss, len) < 0 && (err = errno))) {
    close(fd);
    return throw_errno(env, "bind", err);
  }
  return num(env, fd);
}

// buffers(fd, rcvbuf, sndbuf, force) -> { rcvbuf, sndbuf, rcvForced, sndForced }:
// sizes as getsockopt reports them (twice what was set). 0 leaves one alone.
static napi_value Buffers(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  int fd;
  int64_t rcv = 0, snd = 0;
  bool force = true;
  if (argc < 3 || !arg_fd(env, argv[0], &fd)) return argc < 3 ? throw_type(env, "ctsync_netlink dgram.buffers(fd, rcvbuf, sndbuf, force)") : NULL;
  if (!arg_int(env, argv[1], &rcv) || !arg_int(env, argv[2], &snd) || rcv < 0 || snd < 0 || rcv > INT32_MAX / 2 || snd > INT32_MAX / 2)
    return throw_range(env, "ctsync_netlink dgram.buffers: sizes must be integers below 1 GiB");
  if (argc >= 4) napi_get_value_bool(env, argv[3], &force);
  int forced[2] = {0, 0}, now[2] = {0, 0}, err;
  if (rcv && (err = set_sockbuf(fd, (int)rcv, force, 0, &forced[0]))) return throw_errno(env, "setsockopt(SO_RCVBUF)", err);
  if (snd && (err = set_sockbuf(fd, (int)snd, force, 1, &forced[1]))) return throw_errno(env, "setsockopt(SO_SNDBUF)", err);
  if ((err = get_sockbuf(fd, 0, &now[0])) || (err = get_sockbuf(fd, 1, &now[1]))) return throw_errno(env, "getsockopt", err);
  napi_value o, b;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "rcvbuf", num(env, now[0]));
  napi_set_named_property(env, o, "sndbuf", num(env, now[1]));
  napi_get_boolean(env, forced[0], &b);
  napi_set_named_property(env, o, "rcvForced", b);
  napi_get_boolean(env, forced[1], &b);
  napi_set_named_property(env, o, "sndForced", b);
  return o;
}

// noCheck(fd): UDP checksums off on what this socket sends (Checksum off).
static napi_value NoCheck(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int fd, err;
  if (argc < 1 || !arg_fd(env, argv[0], &fd)) return argc < 1 ? throw_type(env, "ctsync_netlink dgram.noCheck(fd)") : NULL;
  if ((err = setint(fd, SOL_SOCKET, SO_NO_CHECK, 1))) return throw_errno(env, "setsockopt(SO_NO_CHECK)", err);
  return NULL;
}

// The interface of a multicast option: IPv4 by its address ("" any), IPv6
// by the zone of "::%eth1" ("" any).
static int mcast_iface(const char *iface, int family, struct in_addr *v4, unsigned *index) {
  struct sockaddr_storage ss;
  socklen_t len;
  int err = parse_addr(iface, family, 0, &ss, &len);
  if (err) return err;
  if (family == 4) *v4 = ((struct sockaddr_in *)&ss)->sin_addr;
  else *index = ((struct sockaddr_in6 *)&ss)->sin6_scope_id;
  return 0;
}

// join(fd, family, group, iface): joins the group on the interface.
static napi_value Join(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  int fd, family, err;
  char group[INET6_ADDRSTRLEN + IF_NAMESIZE + 2], iface[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  if (argc < 4 || !arg_fd(env, argv[0], &fd) || !arg_family(env, argv[1], &family)) return argc < 4 ? throw_type(env, "ctsync_netlink dgram.join(fd, family, group, iface)") : NULL;
  if (!arg_str(env, argv[2], group, sizeof group) || !arg_str(env, argv[3], iface, sizeof iface))
    return throw_type(env, "ctsync_netlink dgram.join: group and iface must be strings");
  struct sockaddr_storage g;
  socklen_t len;
  struct in_addr v4 = {0};
  unsigned index = 0;
  if ((err = parse_addr(group, family, 0, &g, &len)) || (err = mcast_iface(iface, family, &v4, &index)))
    return throw_errno(env, "join", err);
  if (family == 4) {
    struct ip_mreq m = {.imr_multiaddr = ((struct sockaddr_in *)&g)->sin_addr, .imr_interface = v4};
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) < 0) return throw_errno(env, "setsockopt(IP_ADD_MEMBERSHIP)", errno);
  } else {
    struct ipv6_mreq m = {.ipv6mr_multiaddr = ((struct sockaddr_in6 *)&g)->sin6_addr, .ipv6mr_interface = index};
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m) < 0) return throw_errno(env, "setsockopt(IPV6_JOIN_GROUP)", errno);
  }
  return NULL;
}

// sender(fd, family, iface): a multicast sender on the interface ("" lets the
// routing table choose), loopback off, TTL (hop limit) 1.
static napi_value Sender(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  int fd, family, err;
  char iface[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  if (argc < 3 || !arg_fd(env, argv[0], &fd) || !arg_family(env, argv[1], &family)) return argc < 3 ? throw_type(env, "ctsync_netlink dgram.sender(fd, family, iface)") : NULL;
  if (!arg_str(env, argv[2], iface, sizeof iface)) return throw_type(env, "ctsync_netlink dgram.sender: iface must be a string");
  struct in_addr v4 = {0};
  unsigned index = 0;
  if ((err = mcast_iface(iface, family, &v4, &index))) return throw_errno(env, "sender", err);
  if (family == 4) {
    if ((err = setint(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 0)) || (err = setint(fd, IPPROTO_IP, IP_MULTICAST_TTL, 1)) ||
        (*iface && setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &v4, sizeof v4) < 0 && (err = errno)))
      return throw_errno(env, "setsockopt(IP_MULTICAST_*)", err);
  } else if ((err = setint(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0)) || (err = setint(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 1)) ||
             (*iface && (err = setint(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)index)))) {
    return throw_errno(env, "setsockopt(IPV6_MULTICAST_*)", err);
  }
  return NULL;
}

// connect(fd, family, address, port): where sendMany sends.
static napi_value Connect(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  int fd, family, err;
  int64_t port;
  char addr[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  if (argc < 4 || !arg_fd(env, argv[0], &fd) || !arg_family(env, argv[1], &family)) return argc < 4 ? throw_type(env, "ctsync_netlink dgram.connect(fd, family, address, port)") : NULL;
  if (!arg_str(env, argv[2], addr, sizeof addr)) return throw_type(env, "ctsync_netlink dgram.connect: address must be a string");
  if (!arg_int(env, argv[3], &port) || port < 0 || port > 65535) return throw_range(env, "ctsync_netlink dgram.connect: port out of range");
  struct sockaddr_storage ss;
  socklen_t len;
  if ((err = parse_addr(addr, family, (int)port, &ss, &len))) return throw_errno(env, "connect", err);
  if (connect(fd, (struct sockaddr *)&ss, len) < 0) return throw_errno(env, "connect", errno);
  return NULL;
}

// recvMany(fd, buffer, slot, meta) -> datagrams read (0: none), their bytes
// at buffer[i * slot], their lengths and senders in meta (META_WORDS u32
// each). As many as fit both buffer and meta, at most DG_BATCH_MAX. A
// datagram longer than the slot is cut; its length in meta is the real one.
static napi_value RecvMany(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  int fd;
  uint8_t *buf, *metab;
  size_t len, metalen;
  int64_t slot;
  if (argc < 4) return throw_type(env, "ctsync_netlink dgram.recvMany(fd, buffer, slot, meta)");
  if (!arg_fd(env, argv[0], &fd) || !arg_bytes(env, argv[1], &buf, &len) || !arg_bytes(env, argv[3], &metab, &metalen)) return NULL;
  if (!arg_int(env, argv[2], &slot) || slot < 1 || (size_t)slot > len) return throw_range(env, "ctsync_netlink dgram.recvMany: slot must be within the buffer");
  if ((uintptr_t)metab & 3) return throw_range(env, "ctsync_netlink dgram.recvMany: meta must be 4-byte aligned");
  size_t n = len / (size_t)slot, m = metalen / (META_WORDS * 4);
  if (n > m) n = m;
  if (n > DG_BATCH_MAX) n = DG_BATCH_MAX;
  if (n == 0) return throw_range(env, "ctsync_netlink dgram.recvMany: meta holds no datagram");
  struct mmsghdr msgs[DG_BATCH_MAX];
  struct iovec iov[DG_BATCH_MAX];
  struct sockaddr_storage from[DG_BATCH_MAX];
  slot_msgs(msgs, iov, from, sizeof from[0], buf, (size_t)slot, n);
  int got = recv_batch(fd, msgs, n, MSG_TRUNC); // MSG_TRUNC: a datagram's real length even when it was cut
  if (got < 0) {
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK) return num(env, 0);
    return num(env, -e); // ICMP errors and the like: counted by the caller, the socket stays
  }
  uint32_t *meta = (uint32_t *)metab;
  for (int i = 0; i < got; i++) {
    uint32_t *w = meta + (size_t)i * META_WORDS;
    memset(w, 0, META_WORDS * 4);
    w[0] = msgs[i].msg_len;
    if (from[i].ss_family == AF_INET) {
      struct sockaddr_in *a = (struct sockaddr_in *)&from[i];
      w[1] = 4;
      w[2] = ntohs(a->sin_port);
      memcpy(&w[3], &a->sin_addr, 4);
    } else {
      struct sockaddr_in6 *a = (struct sockaddr_in6 *)&from[i];
      w[1] = 6;
      w[2] = ntohs(a->sin6_port);
      memcpy(&w[3], &a->sin6_addr, 16);
    }
  }
  return num(env, got);
}

// sendMany(fd, buffer, spans, count) -> datagrams sent from the front (0 when
// the socket's buffer is full: try again later), or -errno for the first one
// that failed (it is not sent; the caller counts it and goes on past it).
// spans holds an offset and a length (u32) per datagram, into buffer.
static napi_value SendMany(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  int fd;
  uint8_t *buf, *spanb;
  size_t len, spanlen;
  int64_t count;
  if (argc < 4) return throw_type(env, "ctsync_netlink dgram.sendMany(fd, buffer, spans, count)");
  if (!arg_fd(env, argv[0], &fd) || !arg_bytes(env, argv[1], &buf, &len) || !arg_bytes(env, argv[2], &spanb, &spanlen)) return NULL;
  if (!arg_int(env, argv[3], &count) || count < 0 || (size_t)count * 8 > spanlen) return throw_range(env, "ctsync_netlink dgram.sendMany: count outside spans");
  if ((uintptr_t)spanb & 3) return throw_range(env, "ctsync_netlink dgram.sendMany: spans must be 4-byte aligned");
  if (count > DG_BATCH_MAX) count = DG_BATCH_MAX;
  const uint32_t *spans = (const uint32_t *)spanb;
  struct mmsghdr msgs[DG_BATCH_MAX];
  struct iovec iov[DG_BATCH_MAX];
  for (int64_t i = 0; i < count; i++) {
    uint64_t off = spans[2 * i], n = spans[2 * i + 1];
    if (off + n > len) return throw_range(env, "ctsync_netlink dgram.sendMany: a span lies outside the buffer");
    iov[i].iov_base = buf + off;
    iov[i].iov_len = n;
    memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  if (count == 0) return num(env, 0);
  int sent;
  do sent = sendmmsg(fd, msgs, (unsigned)count, MSG_DONTWAIT);
  while (sent < 0 && errno == EINTR);
  if (sent >= 0) return num(env, sent);
  int e = errno;
  return num(env, e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS ? 0 : -e);
}

// bound(fd) -> { address, port }: where the socket is bound (port 0 asked: the kernel's choice).
static napi_value Bound(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int fd;
  if (argc < 1 || !arg_fd(env, argv[0], &fd)) return argc < 1 ? throw_type(env, "ctsync_netlink dgram.bound(fd)") : NULL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return throw_errno(env, "getsockname", errno);
  char host[INET6_ADDRSTRLEN] = "";
  int port;
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  } else {
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
    port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  }
  napi_value o, s;
  napi_create_object(env, &o);
  napi_create_string_utf8(env, host, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, o, "address", s);
  napi_set_named_property(env, o, "port", num(env, port));
  return o;
}

void dgram_define(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
    {"open", NULL, Open, NULL, NULL, NULL, napi_enumerable, NULL},
    {"buffers", NULL, Buffers, NULL, NULL, NULL, napi_enumerable, NULL},
    {"noCheck", NULL, NoCheck, NULL, NULL, NULL, napi_enumerable, NULL},
    {"join", NULL, Join, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sender", NULL, Sender, NULL, NULL, NULL, napi_enumerable, NULL},
    {"connect", NULL, Connect, NULL, NULL, NULL, napi_enumerable, NULL},
    {"recvMany", NULL, RecvMany, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sendMany", NULL, SendMany, NULL, NULL, NULL, napi_enumerable, NULL},
    {"bound", NULL, Bound, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_value d, c;
  napi_create_object(env, &d);
  napi_define_properties(env, d, sizeof fns / sizeof fns[0], fns);
  napi_create_object(env, &c);
  napi_set_named_property(env, c, "META_WORDS", num(env, META_WORDS));
  napi_set_named_property(env, c, "BATCH_MAX", num(env, DG_BATCH_MAX));
  napi_set_named_property(env, d, "constants", c);
  napi_set_named_property(env, exports, "dgram", d);
}
