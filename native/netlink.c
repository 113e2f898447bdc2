// ctsync_netlink: the host's NETLINK_NETFILTER (ctnetlink) socket, as a small
// N-API addon in plain C; also the NETLINK_ROUTE socket that hears of link
// state changes (host/links/link-watch.ts).
//
// Why not the npm `netlink` package: it aborts the process when the receive
// queue overruns (ENOBUFS), cannot set SO_RCVBUFFORCE / NETLINK_NO_ENOBUFS /
// NETLINK_BROADCAST_ERROR, and calls JS once per datagram. Here the ABI is
// flat (numbers and byte views), many datagrams are read per call with
// recvmmsg() straight into the caller's buffer (the Wasm core's memory), and
// ENOBUFS is a return value, never an exception and never a crash. A request
// batch can also be sent from a worker thread (sendAsync): the kernel does a
// ctnetlink batch's work inside the send call, which the caller then overlaps
// with building the next batch.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#include "napi-util.h"

void dgram_define(napi_env env, napi_value exports);

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

// recvmmsg needs one iovec per datagram, laid out before the sizes are known,
// so the caller's buffer is cut into fixed slots and the datagrams are packed
// back to back afterwards (memmove). No datagram can outgrow a slot: the
// kernel sizes dump skbs by the largest recvmsg() length seen on the socket
// (max_recvmsg_len, capped near 32 KiB) or NLMSG_GOODSIZE (<= 8 KiB), and the
// slot length is the only length this socket is ever read with. Events and
// acks are far smaller.
#define SLOT_MIN 8192
#define SLOT_MAX 32768
#define SLOT_DEFAULT 16384
#define BATCH_MAX 256

// Per-socket state, kept per N-API environment (one list per worker thread).
typedef struct nlsock {
  uv_poll_t poll; // first member: closing frees the whole struct (see close_poll)
  uv_timer_t *hold; // holdOff's timer, made on first use (closed on its own, with free)
  int rearmed;      // holdOff was called again from the hold timer's callback
  int dropped;      // closed from a callback: the memory waits for libuv's close callback
  int fd;
  uint32_t slot;
  int pending_err;  // reported by the next recvMany (after a truncation)
  double overruns;  // ENOBUFS seen by recvMany
  double truncated; // datagrams longer than a slot (discarded)
  double foreign;   // datagrams not sent by the kernel (discarded)
  int polling;
  napi_env env;
  napi_ref cb;
  napi_async_context actx;
  struct nlsock *next;
} nlsock;

typedef struct {
  nlsock *head;
} addon_state;

static addon_state *get_state(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return (addon_state *)data;
}

static nlsock *find_sock(napi_env env, int fd) {
  for (nlsock *s = get_state(env)->head; s; s = s->next)
    if (s->fd == fd) return s;
  return NULL;
}

static nlsock *add_sock(napi_env env, int fd, uint32_t slot) {
  nlsock *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  addon_state *st = get_state(env);
  s->fd = fd;
  s->slot = slot;
  s->env = env;
  s->next = st->head;
  st->head = s;
  return s;
}

static void unlink_sock(napi_env env, nlsock *s) {
  addon_state *st = get_state(env);
  for (nlsock **p = &st->head; *p; p = &(*p)->next)
    if (*p == s) {
      *p = s->next;
      return;
    }
}

// The close callback is libc's free(), called on the handle, which is the
// first member of nlsock: a callback inside this addon could run after a
// worker has unloaded it (libuv finishes closing handles after env cleanup).
static void close_poll(nlsock *s) {
  if (s->hold) {
    uv_close((uv_handle_t *)s->hold, (uv_close_cb)(void (*)(void))free);
    s->hold = NULL;
  }
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, (uv_close_cb)(void (*)(void))free);
}

// Stops the poll (if any) and frees the state. The fd itself is not closed.
static void drop_sock(napi_env env, nlsock *s) {
  unlink_sock(env, s);
  if (s->cb) napi_delete_reference(env, s->cb);
  if (s->actx) napi_async_destroy(env, s->actx);
  s->dropped = 1;
  if (s->polling) {
    close_poll(s); // the memory lives until libuv's close callback
  } else {
    free(s);
  }
}

static int set_nlopt(int fd, int opt, int on) {
  return setsockopt(fd, SOL_NETLINK, opt, &on, sizeof on) == 0 ? 0 : errno;
}

// open({ groups, rcvbuf, force, broadcastError, noEnobufs, extAck, capAck, recvSlot }) -> fd
// groups: bit (g-1) joins NFNLGRP g, the legacy NF_NETLINK_CONNTRACK_* layout
// (1 = conntrack new, 2 = update, 4 = destroy, 8/16/32 = expectation new/update/destroy).
static napi_value Open(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t != napi_object && t != napi_undefined)
    return throw_type(env, "ctsync_netlink open: options must be an object");

  int64_t groups = 0, rcvbuf = 0, force = 0, slot = SLOT_DEFAULT, protocol = NETLINK_NETFILTER;
  int64_t bcast = -1, noenobufs = -1, extack = -1, capack = -1;
  struct { const char *name; int64_t *out; } opts[] = {
    {"protocol", &protocol}, {"groups", &groups}, {"rcvbuf", &rcvbuf}, {"force", &force},
    {"broadcastError", &bcast}, {"noEnobufs", &noenobufs},
    {"extAck", &extack}, {"capAck", &capack}, {"recvSlot", &slot},
  };
  if (t == napi_object)
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
      if (get_opt_int(env, argv[0], opts[i].name, opts[i].out) < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "ctsync_netlink open: option %s must be a number or boolean", opts[i].name);
        return throw_type(env, msg);
      }
  if (protocol != NETLINK_NETFILTER && protocol != NETLINK_ROUTE)
    return throw_range(env, "ctsync_netlink open: protocol must be NETLINK_NETFILTER (12) or NETLINK_ROUTE (0)");
  if (groups < 0 || groups > 0xffffffffLL)
    return throw_range(env, "ctsync_netlink open: groups must be a 32-bit mask");
  if (rcvbuf < 0 || rcvbuf > INT32_MAX / 2)
    return throw_range(env, "ctsync_netlink open: rcvbuf out of range");
  if (slot < SLOT_MIN || slot > SLOT_MAX || (slot & 3))
    return throw_range(env, "ctsync_netlink open: recvSlot must be a multiple of 4 in [8192, 32768]");

  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, (int)protocol);
  if (fd < 0) return throw_errno(env, protocol == NETLINK_ROUTE ? "open: socket(NETLINK_ROUTE)" : "open: socket(NETLINK_NETFILTER)", errno);

  const char *where = NULL;
  int err = 0;
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK}; // nl_pid 0: the kernel assigns the port id
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { where = "open: bind"; err = errno; goto fail; }
  for (int g = 1; g <= 32; g++)
    if (groups & (1LL << (g - 1)))
      if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g) < 0) {
        where = "open: NETLINK_ADD_MEMBERSHIP"; err = errno; goto fail;
      }
  if (rcvbuf > 0 && (err = set_sockbuf(fd, (int)rcvbuf, force != 0, 0, NULL))) { where = "open: SO_RCVBUF"; goto fail; }
  if (bcast >= 0 && (err = set_nlopt(fd, NETLINK_BROADCAST_ERROR, bcast != 0))) { where = "open: NETLINK_BROADCAST_ERROR"; goto fail; }
  if (noenobufs >= 0 && (err = set_nlopt(fd, NETLINK_NO_ENOBUFS, noenobufs != 0))) { where = "open: NETLINK_NO_ENOBUFS"; goto fail; }
  if (extack >= 0 && (err = set_nlopt(fd, NETLINK_EXT_ACK, extack != 0))) { where = "open: NETLINK_EXT_ACK"; goto fail; }
  if (capack >= 0 && (err = set_nlopt(fd, NETLINK_CAP_ACK, capack != 0))) { where = "open: NETLINK_CAP_ACK"; goto fail; }
  if (!add_sock(env, fd, (uint32_t)slot)) { where = "open: state"; err = ENOMEM; goto fail; }
  return num(env, fd);

fail:
  close(fd);
  return throw_errno(env, where, err);
}

// setRcvBuf(fd, bytes, force = true) -> the effective size (as the kernel reports it)
static napi_value SetRcvBuf(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  int fd;
  int64_t bytes;
  bool force = true;
  if (argc < 2 || !arg_fd(env, argv[0], &fd)) return argc < 2 ? throw_type(env, "ctsync_netlink setRcvBuf(fd, bytes)") : NULL;
  if (!arg_int(env, argv[1], &bytes) || bytes <= 0 || bytes > INT32_MAX / 2)
    return throw_range(env, "ctsync_netlink setRcvBuf: bytes must be a positive integer below 1 GiB");
  if (argc >= 3) {
    napi_valuetype t;
    napi_typeof(env, argv[2], &t);
    if (t == napi_boolean) napi_get_value_bool(env, argv[2], &force);
  }
  int err = set_sockbuf(fd, (int)bytes, force, 0, NULL);
  if (err) return throw_errno(env, "setRcvBuf: setsockopt(SO_RCVBUF)", err);
  int now;
  if ((err = get_sockbuf(fd, 0, &now))) return throw_errno(env, "setRcvBuf: getsockopt(SO_RCVBUF)", err);
  return num(env, now);
}

static napi_value GetRcvBuf(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int fd, now, err;
  if (argc < 1 || !arg_fd(env, argv[0], &fd)) return argc < 1 ? throw_type(env, "ctsync_netlink getRcvBuf(fd)") : NULL;
  if ((err = get_sockbuf(fd, 0, &now))) return throw_errno(env, "getRcvBuf: getsockopt(SO_RCVBUF)", err);
  return num(env, now);
}

// setOption(fd, NETLINK_* option, value): any SOL_NETLINK integer option.
static napi_value SetOption(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  int fd;
  int64_t opt, val;
  if (argc < 3 || !arg_fd(env, argv[0], &fd)) return argc < 3 ? throw_type(env, "ctsync_netlink setOption(fd, option, value)") : NULL;
  if (!arg_int(env, argv[1], &opt) || !arg_int(env, argv[2], &val))
    return throw_type(env, "ctsync_netlink setOption: option and value must be numbers");
  int v = (int)val;
  if (setsockopt(fd, SOL_NETLINK, (int)opt, &v, sizeof v) < 0) return throw_errno(env, "setOption: setsockopt(SOL_NETLINK)", errno);
  return NULL;
}

// ---- receive --------------------------------------------------------------

// recvMany(fd, buffer, maxDatagrams) -> bytes written at buffer[0..] (datagrams
// back to back, each a run of nlmsghdr-framed messages), or a negative errno:
// -EAGAIN (nothing to read), -ENOBUFS (the kernel dropped messages: resync),
// -EMSGSIZE (a datagram did not fit a slot and was dropped: resync). 0 means
// only foreign datagrams were read; call again. Other errors throw.
static napi_value RecvMany(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  int fd;
  uint8_t *buf;
  size_t len;
  int64_t maxd = 64;
  if (argc < 2) return throw_type(env, "ctsync_netlink recvMany(fd, buffer, maxDatagrams)");
  if (!arg_fd(env, argv[0], &fd) || !arg_bytes(env, argv[1], &buf, &len)) return NULL;
  if (argc >= 3 && (!arg_int(env, argv[2], &maxd) || maxd < 1))
    return throw_range(env, "ctsync_netlink recvMany: maxDatagrams must be a positive integer");

  nlsock *s = find_sock(env, fd);
  size_t slot = s ? s->slot : SLOT_DEFAULT;
  if (s && s->pending_err) {
    int e = s->pending_err;
    s->pending_err = 0;
    return num(env, -e);
  }
  size_t n = len / slot;
  if (n > (size_t)maxd) n = (size_t)maxd;
  if (n > BATCH_MAX) n = BATCH_MAX;
  if (n == 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "ctsync_netlink recvMany: buffer of %zu bytes is smaller than one receive slot (%zu bytes)", len, slot);
    return throw_range(env, msg);
  }

  struct mmsghdr msgs[BATCH_MAX];
  struct iovec iov[BATCH_MAX];
  struct sockaddr_nl from[BATCH_MAX];
  slot_msgs(msgs, iov, from, sizeof from[0], buf, slot, n);
  int got = recv_batch(fd, msgs, n, 0);
  if (got < 0) {
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK) return num(env, -EAGAIN);
    if (e == ENOBUFS) {
      if (s) s->overruns++;
      return num(env, -ENOBUFS);
    }
    return throw_errno(env, "recvMany: recvmmsg", e);
  }

  // Pack: slot i starts at i*slot >= pos, so memmove only ever moves down.
  size_t pos = 0;
  for (int i = 0; i < got; i++) {
    size_t sz = msgs[i].msg_len;
    if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
      if (s) { s->truncated++; s->pending_err = EMSGSIZE; }
      continue;
    }
    // Only the kernel (port 0) speaks ctnetlink to us; another process could
    // unicast to our port id. Unaligned sizes would break the framing.
    if (from[i].nl_pid != 0 || (sz & 3)) {
      if (s) s->foreign++;
      continue;
    }
    uint8_t *src = buf + (size_t)i * slot;
    if (src != buf + pos) memmove(buf + pos, src, sz);
    pos += sz;
  }
  return num(env, (double)pos);
}

// ---- send -----------------------------------------------------------------

// The arguments both sends take: fd, buffer, offset, length, portid = 0.
typedef struct {
  int fd;
  uint8_t *p;
  size_t n;
  struct sockaddr_nl to;
} send_args;

static int get_send_args(napi_env env, napi_callback_info info, const char *name, send_args *a) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  size_t len;
  int64_t off = 0, n = -1, pid = 0;
  char msg[128];
  if (argc < 2) {
    snprintf(msg, sizeof msg, "ctsync_netlink %s(fd, buffer, offset, length)", name);
    return throw_type(env, msg), 0;
  }
  if (!arg_fd(env, argv[0], &a->fd) || !arg_bytes(env, argv[1], &a->p, &len)) return 0;
  if ((argc >= 3 && !arg_int(env, argv[2], &off)) || (argc >= 4 && !arg_int(env, argv[3], &n)) ||
      (argc >= 5 && !arg_int(env, argv[4], &pid))) {
    snprintf(msg, sizeof msg, "ctsync_netlink %s: offset, length and portid must be numbers", name);
    return throw_type(env, msg), 0;
  }
  if (n < 0) n = (int64_t)len - off;
  if (off < 0 || n < 0 || (uint64_t)off + (uint64_t)n > len) {
    snprintf(msg, sizeof msg, "ctsync_netlink %s: offset/length outside the buffer", name);
    return throw_range(env, msg), 0;
  }
  if (pid < 0 || pid > 0xffffffffLL) {
    snprintf(msg, sizeof msg, "ctsync_netlink %s: portid must be a 32-bit number", name);
    return throw_range(env, msg), 0;
  }
  a->p += off;
  a->n = (size_t)n;
  memset(&a->to, 0, sizeof a->to);
  a->to.nl_family = AF_NETLINK;
  a->to.nl_pid = (uint32_t)pid;
  return 1;
}

// One datagram out; the result is the byte count or -errno.
static ssize_t send_once(const send_args *a) {
  ssize_t r;
  do r = sendto(a->fd, a->p, a->n, 0, (const struct sockaddr *)&a->to, sizeof a->to);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}

static int transient(ssize_t r) {
  return r == -EAGAIN || r == -EWOULDBLOCK || r == -ENOBUFS;
}

// send(fd, buffer, offset, length, portid = 0) -> bytes sent, or -EAGAIN /
// -ENOBUFS (transient: retry later). A batch of requests goes in one datagram.
static napi_value Send(napi_env env, napi_callback_info info) {
  send_args a;
  if (!get_send_args(env, info, "send", &a)) return NULL;
  ssize_t r = send_once(&a);
  if (r < 0 && !transient(r)) return throw_errno(env, "send: sendto", (int)-r);
  return num(env, (double)r);
}

// sendAsync(...same arguments) -> Promise of what send returns. The kernel
// processes a ctnetlink request batch inside sendto, on the calling thread:
// done on a worker thread, the caller builds the next batch meanwhile. The
// bytes are copied first, so the caller may reuse its buffer at once.
typedef struct {
  napi_async_work work;
  napi_deferred done;
  send_args a;
  ssize_t result;
} send_job;

static void send_job_run(napi_env env, void *data) {
  (void)env;
  send_job *j = data;
  j->result = send_once(&j->a);
}

static void send_job_end(napi_env env, napi_status status, void *data) {
  send_job *j = data;
  ssize_t r = status == napi_ok ? j->result : -ECANCELED;
  napi_value v;
  if (r >= 0 || transient(r)) {
    napi_create_double(env, (double)r, &v);
    napi_resolve_deferred(env, j->done, v);
  } else {
    napi_reject_deferred(env, j->done, errno_error(env, "sendAsync: sendto", (int)-r));
  }
  napi_delete_async_work(env, j->work);
  free(j->a.p);
  free(j);
}

static napi_value SendAsync(napi_env env, napi_callback_info info) {
  send_args a;
  if (!get_send_args(env, info, "sendAsync", &a)) return NULL;
  send_job *j = calloc(1, sizeof *j);
  uint8_t *copy = malloc(a.n ? a.n : 1);
  if (!j || !copy) {
    free(j);
    free(copy);
    return throw_errno(env, "sendAsync", ENOMEM);
  }
  memcpy(copy, a.p, a.n);
  j->a = a;
  j->a.p = copy;
  napi_value promise, name;
  napi_create_string_utf8(env, "ctsync_netlink.sendAsync", NAPI_AUTO_LENGTH, &name);
  if (napi_create_promise(env, &j->done, &promise) != napi_ok ||
      napi_create_async_work(env, NULL, name, send_job_run, send_job_end, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    free(copy);
    free(j);
    return throw_errno(env, "sendAsync: queue", EAGAIN);
  }
  return promise;
}

// ---- poll -----------------------------------------------------------------

// Calls the socket's JS callback with `arg` (0: readable; else a negative errno).
static void call_back(nlsock *s, int arg) {
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, a;
  if (napi_get_reference_value(env, s->cb, &fn) == napi_ok && fn) {
    napi_get_global(env, &recv); // make_callback needs an object receiver
    napi_create_int32(env, arg, &a);
    // make_callback (not call_function): runs async hooks and drains
    // microtasks, as for any other libuv-driven callback.
    if (napi_make_callback(env, s->actx, recv, fn, 1, &a, NULL) != napi_ok) {
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        // A throwing JS callback is the caller's bug: route it to
        // process 'uncaughtException' like Node does, never abort().
        napi_value exc;
        napi_get_and_clear_last_exception(env, &exc);
        napi_fatal_exception(env, exc);
      }
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  nlsock *s = h->data;
  int arg = status;
  if (status == UV_EBADF && fcntl(s->fd, F_GETFD) != -1) {
    // libuv reports POLLERR as EBADF and stops the handle. On netlink POLLERR
    // means sk_err is set, i.e. an overrun: the fd is fine, the next
    // recvMany returns -ENOBUFS. Re-arm and report "readable".
    arg = 0;
    if (uv_poll_start(h, UV_READABLE, on_poll) != 0) arg = status;
  }
  call_back(s, arg);
}

// The hold is over: the callback reads what gathered. If it holds off again
// (a burst goes on), the poll stays stopped and this timer alone paces the
// reads. Restarting the poll for each read would cost two epoll_ctl calls and
// a wakeup by the first event of every hold, to take the fd out again.
static void on_hold(uv_timer_t *t) {
  nlsock *s = t->data;
  s->rearmed = 0;
  call_back(s, 0);
  if (s->dropped || s->rearmed) return;
  uv_poll_start(&s->poll, UV_READABLE, on_poll);
}

// poll(fd, callback): calls callback(status) whenever fd is readable (status
// 0) or polling failed (negative errno; polling has stopped). Level
// triggered: read until -EAGAIN in the callback or it fires again.
static napi_value Poll(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int fd;
  if (argc < 2) return throw_type(env, "ctsync_netlink poll(fd, callback)");
  if (!arg_fd(env, argv[0], &fd)) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_function) return throw_type(env, "ctsync_netlink poll: callback must be a function");
  nlsock *s = find_sock(env, fd);
  if (!s && !(s = add_sock(env, fd, SLOT_DEFAULT))) return throw_errno(env, "poll: state", ENOMEM);
  if (s->polling) return throw_errno(env, "poll: already polling this fd", EBUSY);
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_errno(env, "poll: napi_get_uv_event_loop", EINVAL);
  napi_value name, resource;
  napi_create_string_utf8(env, "ctsync:netlink", NAPI_AUTO_LENGTH, &name);
  napi_create_object(env, &resource);
  if (!s->actx && napi_async_init(env, resource, name, &s->actx) != napi_ok) return NULL;
  int r = uv_poll_init(loop, &s->poll, fd);
  if (r < 0) return throw_errno(env, "poll: uv_poll_init", -r);
  s->poll.data = s;
  if (s->cb) napi_delete_reference(env, s->cb);
  napi_create_reference(env, argv[1], 1, &s->cb);
  s->polling = 1;
  r = uv_poll_start(&s->poll, UV_READABLE, on_poll);
  if (r < 0) {
    drop_sock(env, s);
    return throw_errno(env, "poll: uv_poll_start", -r);
  }
  return NULL;
}

// holdOff(fd, ms): no callback for `ms`; then one, whether or not anything
// came, and polling resumes unless that callback holds off again. What
// arrives meanwhile waits in the socket's buffer, to be read in one go: the
// daemon holds its event socket off for a few milliseconds after each read
// when the buffer is large (host/kernel/kernel.ts, HOLD_OFF_MS), so that a
// busy firewall's events come in hundreds per wakeup rather than a few.
static napi_value HoldOff(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int fd;
  int64_t ms;
  if (argc < 2 || !arg_fd(env, argv[0], &fd) || !arg_int(env, argv[1], &ms) || ms < 0)
    return throw_type(env, "ctsync_netlink holdOff(fd, ms >= 0)");
  nlsock *s = find_sock(env, fd);
  if (!s || !s->polling) return NULL;
  if (!s->hold) {
    uv_loop_t *loop;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_errno(env, "holdOff: napi_get_uv_event_loop", EINVAL);
    if (!(s->hold = malloc(sizeof *s->hold))) return throw_errno(env, "holdOff: timer", ENOMEM);
    uv_timer_init(loop, s->hold);
    s->hold->data = s;
  }
  uv_poll_stop(&s->poll);
  s->rearmed = 1;
  uv_timer_start(s->hold, on_hold, (uint64_t)ms, 0);
  return NULL;
}

// close(fd): stops polling, forgets the state, closes the socket.
static napi_value Close(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int fd;
  if (argc < 1) return throw_type(env, "ctsync_netlink close(fd)");
  if (!arg_fd(env, argv[0], &fd)) return NULL;
  nlsock *s = find_sock(env, fd);
  if (s) drop_sock(env, s); // uv_poll_stop removes fd from epoll before close()
  if (close(fd) < 0) return throw_errno(env, "close", errno);
  return NULL;
}

// ---- introspection --------------------------------------------------------

static napi_value PortId(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int fd;
  if (argc < 1) return throw_type(env, "ctsync_netlink portId(fd)");
  if (!arg_fd(env, argv[0], &fd)) return NULL;
  struct sockaddr_nl sa;
  socklen_t len = sizeof sa;
  if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) return throw_errno(env, "portId: getsockname", errno);
  return num(env, sa.nl_pid);
}

// dropCount(fd): the messages the kernel could not queue on this socket
// (sk_drops, the Drops column of /proc/net/netlink), counted also with
// NETLINK_NO_ENOBUFS set, so lost events show here regardless. One
// getsockopt(SO_MEMINFO): the daemon asks every second.
static napi_value DropCount(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int fd;
  if (argc < 1) return throw_type(env, "ctsync_netlink dropCount(fd)");
  if (!arg_fd(env, argv[0], &fd)) return NULL;
  uint32_t mem[SK_MEMINFO_VARS] = {0};
  socklen_t len = sizeof mem;
  if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0) return throw_errno(env, "dropCount: SO_MEMINFO", errno);
  if (len <= SK_MEMINFO_DROPS * sizeof mem[0]) return throw_errno(env, "dropCount: SO_MEMINFO has no drop count", ENOTSUP);
  return num(env, mem[SK_MEMINFO_DROPS]);
}

// stats(fd) -> { overruns, truncated, foreign } as counted by recvMany.
static napi_value Stats(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int fd;
  if (argc < 1) return throw_type(env, "ctsync_netlink stats(fd)");
  if (!arg_fd(env, argv[0], &fd)) return NULL;
  nlsock *s = find_sock(env, fd);
  napi_value o;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "overruns", num(env, s ? s->overruns : 0));
  napi_set_named_property(env, o, "truncated", num(env, s ? s->truncated : 0));
  napi_set_named_property(env, o, "foreign", num(env, s ? s->foreign : 0));
  return o;
}

// ---- module ---------------------------------------------------------------

// Environment cleanup (process exit, worker termination) runs while the loop
// still works, so poll handles are closed here; the fds opened through this
// environment are closed too, or a terminated worker would leak them.
static void cleanup_hook(void *arg) {
  addon_state *st = arg;
  while (st->head) {
    nlsock *s = st->head;
    st->head = s->next;
    int fd = s->fd;
    if (s->polling) {
      close_poll(s);
    } else {
      free(s);
    }
    close(fd);
  }
  free(st); // the hook owns the state: no instance-data finalizer can race it
}

static void set_const(napi_env env, napi_value obj, const char *name, int v) {
  napi_value x;
  napi_create_int32(env, v, &x);
  napi_set_named_property(env, obj, name, x);
}

NAPI_MODULE_INIT() {
  addon_state *st = calloc(1, sizeof *st);
  if (!st || napi_set_instance_data(env, st, NULL, NULL) != napi_ok ||
      napi_add_env_cleanup_hook(env, cleanup_hook, st) != napi_ok) {
    napi_throw_error(env, NULL, "ctsync_netlink: cannot allocate addon state");
    return NULL;
  }
  napi_property_descriptor fns[] = {
    {"open", NULL, Open, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setRcvBuf", NULL, SetRcvBuf, NULL, NULL, NULL, napi_enumerable, NULL},
    {"getRcvBuf", NULL, GetRcvBuf, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setOption", NULL, SetOption, NULL, NULL, NULL, napi_enumerable, NULL},
    {"recvMany", NULL, RecvMany, NULL, NULL, NULL, napi_enumerable, NULL},
    {"send", NULL, Send, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sendAsync", NULL, SendAsync, NULL, NULL, NULL, napi_enumerable, NULL},
    {"poll", NULL, Poll, NULL, NULL, NULL, napi_enumerable, NULL},
    {"holdOff", NULL, HoldOff, NULL, NULL, NULL, napi_enumerable, NULL},
    {"close", NULL, Close, NULL, NULL, NULL, napi_enumerable, NULL},
    {"portId", NULL, PortId, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dropCount", NULL, DropCount, NULL, NULL, NULL, napi_enumerable, NULL},
    {"stats", NULL, Stats, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  napi_value c;
  napi_create_object(env, &c);
  set_const(env, c, "EAGAIN", EAGAIN);
  set_const(env, c, "ENOBUFS", ENOBUFS);
  set_const(env, c, "EMSGSIZE", EMSGSIZE);
  set_const(env, c, "NETLINK_BROADCAST_ERROR", NETLINK_BROADCAST_ERROR);
  set_const(env, c, "NETLINK_NO_ENOBUFS", NETLINK_NO_ENOBUFS);
  set_const(env, c, "NETLINK_CAP_ACK", NETLINK_CAP_ACK);
  set_const(env, c, "NETLINK_EXT_ACK", NETLINK_EXT_ACK);
  set_const(env, c, "SLOT_MIN", SLOT_MIN);
  set_const(env, c, "SLOT_MAX", SLOT_MAX);
  set_const(env, c, "SLOT_DEFAULT", SLOT_DEFAULT);
  set_const(env, c, "BATCH_MAX", BATCH_MAX);
  napi_set_named_property(env, exports, "constants", c);
  dgram_define(env, exports); // the sync link's UDP sockets: dgram.c
  return exports;
}
