// ctsync_cpg: Corosync's closed process groups (libcpg) for the Corosync sync
// transport, as a small N-API addon in plain C. Built only where libcpg-dev is
// installed (binding.gyp); the host loads it when a configuration asks for
// Corosync, so a machine without it still runs every other transport.
//
// The ABI is flat, like ctsync_netlink's: a group is a small integer; next()
// dispatches exactly one event (CS_DISPATCH_ONE_NONBLOCKING) and copies a
// delivered message straight into the caller's buffer (the core's receive
// buffer), its sender into a Uint32Array; a membership change comes back as an
// object. send() reports CPG's flow control (CS_ERR_TRY_AGAIN) as -1 and
// never drops: the caller keeps the message and tries again after it has read
// its own deliveries (corosync throttles a sender whose reader lags).

#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <corosync/cpg.h>
#include <node_api.h>
#include <uv.h>

#include "napi-util.h"

#define MAX_GROUPS 16

typedef struct group {
  uv_poll_t poll; // first member: closing frees the whole struct
  cpg_handle_t h;
  int fd;
  int polling;
  napi_env env;
  napi_ref cb;
  napi_async_context actx;
  // What the callbacks of the dispatch under way report to next().
  uint8_t *out;
  size_t room;
  int kind; // 0 nothing yet, 1 message, 2 membership, 3 message too large for the buffer
  size_t len;
  uint32_t nodeid, pid;
  napi_value change;
} group;

static group *groups[MAX_GROUPS];

// ---- errors ---------------------------------------------------------------

static const char *cs_name(cs_error_t e) {
  switch (e) {
  case CS_OK: return "CS_OK";
  case CS_ERR_LIBRARY: return "CS_ERR_LIBRARY";
  case CS_ERR_TRY_AGAIN: return "CS_ERR_TRY_AGAIN";
  case CS_ERR_BAD_HANDLE: return "CS_ERR_BAD_HANDLE";
  case CS_ERR_ACCESS: return "CS_ERR_ACCESS";
  case CS_ERR_NOT_EXIST: return "CS_ERR_NOT_EXIST";
  case CS_ERR_EXIST: return "CS_ERR_EXIST";
  case CS_ERR_INVALID_PARAM: return "CS_ERR_INVALID_PARAM";
  case CS_ERR_NO_MEMORY: return "CS_ERR_NO_MEMORY";
  case CS_ERR_TOO_BIG: return "CS_ERR_TOO_BIG";
  default: return "CS_ERR";
  }
}

static const char *cs_why(cs_error_t e) {
  switch (e) {
  case CS_ERR_LIBRARY: return "corosync is not running or not reachable from this network namespace";
  case CS_ERR_ACCESS: return "corosync refused this process (see uidgid in corosync.conf)";
  case CS_ERR_BAD_HANDLE: return "the connection to corosync is closed";
  case CS_ERR_TOO_BIG: return "the message is larger than corosync accepts";
  default: return "corosync error";
  }
}

// Throws Error("ctsync_cpg <where>: <why> (CS_ERR_X = n)") with .code = "CS_ERR_X".
static napi_value throw_cs(napi_env env, const char *where, cs_error_t e) {
  char msg[256];
  snprintf(msg, sizeof msg, "ctsync_cpg %s: %s (%s = %d)", where, cs_why(e), cs_name(e), (int)e);
  napi_throw_error(env, cs_name(e), msg);
  return NULL;
}

static group *arg_group(napi_env env, napi_value v) {
  int32_t id = -1;
  if (napi_get_value_int32(env, v, &id) != napi_ok || id < 0 || id >= MAX_GROUPS || !groups[id]) {
    throw_type(env, "ctsync_cpg: not an open group");
    return NULL;
  }
  return groups[id];
}

/** A Uint8Array argument only (napi-util.h's arg_bytes takes any view). */
static int arg_u8(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type t;
  void *p;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &t, len, &p, &ab, &off) != napi_ok || t != napi_uint8_array) {
    throw_type(env, "ctsync_cpg: expected a Uint8Array");
    return 0;
  }
  *data = p;
  return 1;
}

// ---- callbacks (run inside cpg_dispatch, itself inside next()) ------------

static group *group_of(cpg_handle_t h) {
  void *ctx = NULL;
  cpg_context_get(h, &ctx);
  return ctx;
}

static void on_deliver(cpg_handle_t h, const struct cpg_name *name, uint32_t nodeid, uint32_t pid, void *msg, size_t len) {
  group *g = group_of(h);
  if (!g) return;
  g->nodeid = nodeid;
  g->pid = pid;
  g->len = len;
  if (len > g->room) { // bounded: a message larger than the core's buffer is counted and dropped by the caller
    g->kind = 3;
    return;
  }
  memcpy(g->out, msg, len);
  g->kind = 1;
}

static napi_value address_list(napi_env env, const struct cpg_address *list, size_t n) {
  napi_value arr;
  napi_create_array_with_length(env, n, &arr);
  for (size_t i = 0; i < n; i++) {
    napi_value o;
    napi_create_object(env, &o);
    napi_set_named_property(env, o, "nodeid", num(env, list[i].nodeid));
    napi_set_named_property(env, o, "pid", num(env, list[i].pid));
    napi_set_named_property(env, o, "reason", num(env, list[i].reason));
    napi_set_element(env, arr, (uint32_t)i, o);
  }
  return arr;
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *name,
                       const struct cpg_address *members, size_t nmembers,
                       const struct cpg_address *left, size_t nleft,
                       const struct cpg_address *joined, size_t njoined) {
  group *g = group_of(h);
  if (!g) return;
  napi_env env = g->env;
  napi_value o;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "members", address_list(env, members, nmembers));
  napi_set_named_property(env, o, "left", address_list(env, left, nleft));
  napi_set_named_property(env, o, "joined", address_list(env, joined, njoined));
  g->change = o;
  g->kind = 2;
}

// ---- the ABI ----------------------------------------------------------------

static int set_name(struct cpg_name *n, napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, n->value, sizeof n->value, &len) != napi_ok || len == 0 ||
      len >= sizeof n->value - 1) {
    throw_type(env, "ctsync_cpg open: the group name must be 1 to 126 bytes");
    return 0;
  }
  n->length = (uint32_t)len;
  return 1;
}

// Retries what corosync answers TRY_AGAIN to (it does while a membership
// change is being synchronized), for at most about ten seconds.
#define RETRY(call)                                                            \
  ({                                                                           \
    cs_error_t r_;                                                             \
    for (int t_ = 0; (r_ = (call)) == CS_ERR_TRY_AGAIN && t_ < 1000; t_++) usleep(10000); \
    r_;                                                                        \
  })

// open(groupName) -> { id, fd, nodeid }: connects to the local corosync and joins the group.
static napi_value Open(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  if (argc < 1) return throw_type(env, "ctsync_cpg open(groupName)");
  struct cpg_name name;
  if (!set_name(&name, env, argv[0])) return NULL;
  int id = 0;
  while (id < MAX_GROUPS && groups[id]) id++;
  if (id == MAX_GROUPS) return throw_type(env, "ctsync_cpg open: too many groups open");
  group *g = calloc(1, sizeof *g);
  if (!g) return throw_cs(env, "open", CS_ERR_NO_MEMORY);
  g->env = env;
  cpg_model_v1_data_t model = {.model = CPG_MODEL_V1, .cpg_deliver_fn = on_deliver, .cpg_confchg_fn = on_confchg};
  cs_error_t e = RETRY(cpg_model_initialize(&g->h, CPG_MODEL_V1, (cpg_model_data_t *)&model, g));
  if (e != CS_OK) {
    free(g);
    return throw_cs(env, "cannot connect to corosync", e);
  }
  unsigned int nodeid = 0;
  if ((e = RETRY(cpg_join(g->h, &name))) != CS_OK || (e = cpg_fd_get(g->h, &g->fd)) != CS_OK ||
      (e = cpg_local_get(g->h, &nodeid)) != CS_OK) {
    cpg_finalize(g->h);
    free(g);
    return throw_cs(env, "cannot join the process group", e);
  }
  groups[id] = g;
  napi_value o;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "id", num(env, id));
  napi_set_named_property(env, o, "fd", num(env, g->fd));
  napi_set_named_property(env, o, "nodeid", num(env, nodeid));
  return o;
}

// next(id, buffer, sender: Uint32Array(2)) -> one event: the length of a
// message copied into buffer (sender = [nodeid, pid]); a membership object
// { members, left, joined }; -1 nothing pending; -2 an event of no interest
// (call again); -3 a message larger than buffer (dropped; its length in sender[1]).
static napi_value Next(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  if (argc < 3) return throw_type(env, "ctsync_cpg next(id, buffer, sender)");
  group *g = arg_group(env, argv[0]);
  uint8_t *out, *meta;
  size_t room, metalen;
  if (!g || !arg_u8(env, argv[1], &out, &room)) return NULL;
  napi_typedarray_type t;
  void *p;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, argv[2], &t, &metalen, &p, &ab, &off) != napi_ok || t != napi_uint32_array || metalen < 2)
    return throw_type(env, "ctsync_cpg next: sender must be a Uint32Array of 2");
  meta = p;
  g->out = out;
  g->room = room;
  g->kind = 0;
  g->env = env;
  cs_error_t e = cpg_dispatch(g->h, CS_DISPATCH_ONE_NONBLOCKING);
  if (e == CS_ERR_TRY_AGAIN) return num(env, -1);
  if (e != CS_OK) return throw_cs(env, "dispatch", e);
  uint32_t *sender = (uint32_t *)meta;
  switch (g->kind) {
  case 1:
    sender[0] = g->nodeid;
    sender[1] = g->pid;
    return num(env, (double)g->len);
  case 2: return g->change;
  case 3:
    sender[0] = g->nodeid;
    sender[1] = (uint32_t)g->len;
    return num(env, -3);
  default: return num(env, -2);
  }
}

// send(id, bytes) -> 0 sent, -1 corosync's flow control (keep it, try again later).
static napi_value Send(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  if (argc < 2) return throw_type(env, "ctsync_cpg send(id, bytes)");
  group *g = arg_group(env, argv[0]);
  uint8_t *data;
  size_t len;
  if (!g || !arg_u8(env, argv[1], &data, &len)) return NULL;
  struct iovec iov = {.iov_base = data, .iov_len = len};
  cs_error_t e = cpg_mcast_joined(g->h, CPG_TYPE_AGREED, &iov, 1);
  if (e == CS_ERR_TRY_AGAIN) return num(env, -1);
  if (e != CS_OK) return throw_cs(env, "send", e);
  return num(env, 0);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  group *g = handle->data;
  napi_env env = g->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, arg;
  napi_get_reference_value(env, g->cb, &cb);
  napi_get_global(env, &recv); // make_callback converts its receiver to an object: undefined throws
  napi_create_int32(env, status, &arg);
  napi_make_callback(env, g->actx, recv, cb, 1, &arg, NULL);
  napi_close_handle_scope(env, scope);
}

// poll(id, callback): callback(status) whenever corosync has something for us (0) or polling failed (< 0).
static napi_value Poll(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  if (argc < 2) return throw_type(env, "ctsync_cpg poll(id, callback)");
  group *g = arg_group(env, argv[0]);
  if (!g) return NULL;
  if (g->polling) return throw_type(env, "ctsync_cpg poll: already polling");
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  napi_value name, resource;
  napi_create_string_utf8(env, "ctsync:cpg", NAPI_AUTO_LENGTH, &name);
  napi_create_object(env, &resource);
  if (napi_async_init(env, resource, name, &g->actx) != napi_ok) return NULL;
  if (uv_poll_init(loop, &g->poll, g->fd) < 0) return throw_type(env, "ctsync_cpg poll: uv_poll_init failed");
  g->poll.data = g;
  napi_create_reference(env, argv[1], 1, &g->cb);
  g->polling = 1;
  uv_poll_start(&g->poll, UV_READABLE, on_poll);
  return NULL;
}

static void drop_group(napi_env env, int id) {
  group *g = groups[id];
  groups[id] = NULL;
  if (env && g->cb) napi_delete_reference(env, g->cb);
  if (env && g->actx) napi_async_destroy(env, g->actx);
  cpg_finalize(g->h); // leaves the group: the others see us go
  if (g->polling) {
    uv_poll_stop(&g->poll);
    uv_close((uv_handle_t *)&g->poll, (uv_close_cb)(void (*)(void))free);
  } else {
    free(g);
  }
}

// close(id): stops polling and leaves the group.
static napi_value Close(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  if (argc < 1) return throw_type(env, "ctsync_cpg close(id)");
  int32_t id = -1;
  napi_get_value_int32(env, argv[0], &id);
  if (id >= 0 && id < MAX_GROUPS && groups[id]) drop_group(env, id);
  return NULL;
}

static void cleanup_hook(void *arg) {
  for (int id = 0; id < MAX_GROUPS; id++)
    if (groups[id]) drop_group(NULL, id);
}

NAPI_MODULE_INIT() {
  static int hooked = 0;
  if (!hooked++) napi_add_env_cleanup_hook(env, cleanup_hook, NULL);
  napi_property_descriptor fns[] = {
    {"open", NULL, Open, NULL, NULL, NULL, napi_enumerable, NULL},
    {"next", NULL, Next, NULL, NULL, NULL, napi_enumerable, NULL},
    {"send", NULL, Send, NULL, NULL, NULL, napi_enumerable, NULL},
    {"poll", NULL, Poll, NULL, NULL, NULL, napi_enumerable, NULL},
    {"close", NULL, Close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  return exports;
}
