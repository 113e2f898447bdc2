// Helpers the addons' C files share (netlink.c, dgram.c, cpg.c, process.c):
// Node-style errors, argument checks, numbers, socket buffer sizes. Static
// and unused-tolerant: each file includes what it needs of one definition.
#ifndef CTSYNC_NAPI_UTIL_H
#define CTSYNC_NAPI_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <node_api.h>
#include <uv.h>

#define UTIL static __attribute__((unused))

// ---- errors ---------------------------------------------------------------

// Error("ctsync_netlink <where>: <strerror> (errno N)") with .errno, .code
// and .syscall set, like Node's own system errors.
UTIL napi_value errno_error(napi_env env, const char *where, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "ctsync_netlink %s: %s (errno %d)", where, strerror(err), err);
  napi_value m, e, v;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  napi_create_int32(env, err, &v);
  napi_set_named_property(env, e, "errno", v);
  napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "code", v);
  napi_create_string_utf8(env, where, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "syscall", v);
  return e;
}

UTIL napi_value throw_errno(napi_env env, const char *where, int err) {
  napi_throw(env, errno_error(env, where, err));
  return NULL;
}

UTIL napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

UTIL napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

// ---- argument helpers -----------------------------------------------------

#define GET_ARGS(n)                                                      \
  size_t argc = (n);                                                     \
  napi_value argv[(n) > 0 ? (n) : 1];                                    \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)   \
    return NULL;

UTIL int arg_int(napi_env env, napi_value v, int64_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return 0;
  return napi_get_value_int64(env, v, out) == napi_ok;
}

UTIL int arg_fd(napi_env env, napi_value v, int *fd) {
  int64_t x;
  if (!arg_int(env, v, &x) || x < 0 || x > INT32_MAX) {
    throw_type(env, "ctsync_netlink: fd must be a non-negative integer");
    return 0;
  }
  *fd = (int)x;
  return 1;
}

// Accepts any TypedArray (normally a Uint8Array over the Wasm memory) or a
// DataView; returns a pointer that already includes the view's byteOffset.
UTIL int arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t n;
    void *p;
    if (napi_get_typedarray_info(env, v, &type, &n, &p, NULL, NULL) != napi_ok) return 0;
    size_t el = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: el = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: el = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: el = 8; break;
      default: el = 1;
    }
    *data = p;
    *len = n * el;
    return 1;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    void *p;
    if (napi_get_dataview_info(env, v, len, &p, NULL, NULL) != napi_ok) return 0;
    *data = p;
    return 1;
  }
  throw_type(env, "ctsync_netlink: buffer must be a Uint8Array (or another ArrayBuffer view)");
  return 0;
}

UTIL int get_opt_int(napi_env env, napi_value obj, const char *name, int64_t *out) {
  bool has = false;
  napi_value v;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return 0;
  napi_get_named_property(env, obj, name, &v);
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_undefined) return 0;
  if (t == napi_boolean) {
    bool b;
    napi_get_value_bool(env, v, &b);
    *out = b;
    return 1;
  }
  if (t == napi_number) return napi_get_value_int64(env, v, out) == napi_ok;
  return -1;
}

UTIL napi_value num(napi_env env, double x) {
  napi_value v;
  napi_create_double(env, x, &v);
  return v;
}
// ---- socket buffers -------------------------------------------------------

// SO_{RCV,SND}BUFFORCE (needs CAP_NET_ADMIN) ignore net.core.{r,w}mem_max;
// without the capability fall back to the plain option, which the kernel caps
// there. *forced (if given) says which of the two took.
UTIL int set_sockbuf(int fd, int bytes, int force, int snd, int *forced) {
  if (forced) *forced = 0;
  int opt_force = snd ? SO_SNDBUFFORCE : SO_RCVBUFFORCE, opt = snd ? SO_SNDBUF : SO_RCVBUF;
  if (force && setsockopt(fd, SOL_SOCKET, opt_force, &bytes, sizeof bytes) == 0) {
    if (forced) *forced = 1;
    return 0;
  }
  if (setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes) == 0) return 0;
  return errno;
}

UTIL int get_sockbuf(int fd, int snd, int *out) {
  socklen_t len = sizeof *out;
  return getsockopt(fd, SOL_SOCKET, snd ? SO_SNDBUF : SO_RCVBUF, out, &len) == 0 ? 0 : errno;
}

// ---- batched receive --------------------------------------------------------

// Cuts buf into n slots of `slot` bytes, one datagram each, for recvmmsg;
// from[i] (fromlen bytes each) receives datagram i's sender.
UTIL void slot_msgs(struct mmsghdr *msgs, struct iovec *iov, void *from, size_t fromlen, uint8_t *buf, size_t slot, size_t n) {
  for (size_t i = 0; i < n; i++) {
    iov[i].iov_base = buf + i * slot;
    iov[i].iov_len = slot;
    memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_name = (uint8_t *)from + i * fromlen;
    msgs[i].msg_hdr.msg_namelen = (socklen_t)fromlen;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
}

// recvmmsg without blocking, retried when a signal interrupts it.
UTIL int recv_batch(int fd, struct mmsghdr *msgs, size_t n, int flags) {
  int got;
  do got = recvmmsg(fd, msgs, (unsigned)n, MSG_DONTWAIT | flags, NULL);
  while (got < 0 && errno == EINTR);
  return got;
}

#endif
