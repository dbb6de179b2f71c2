// Batched UDP I/O for the DNS hot path: recvmmsg() up to BATCH datagrams, hand them to
// JavaScript in one call, send all replies with one sendmmsg(). Node's dgram does one
// syscall and one JS callback per packet, which caps a single thread far below rbldnsd.
//
// JS API (see server/udp-batch.ts):
//   open(family, address, port, batch, slot) -> [id, boundPort]     throws Error on failure
//   start(id, inBuf, meta, outBuf, outLen, callback)   callback(count) after each recvmmsg
//   close(id)
// Buffers are owned by JS and referenced here for the socket's lifetime:
//   inBuf  batch*slot bytes: datagram i at i*slot
//   meta   Int32Array batch*8: [len, family, port, 0, addr(16 bytes)]
//   outBuf batch*slot bytes: reply i at i*slot, outLen[i] its length (0 = no reply)

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define MAX_SOCKETS 64
#define MAX_BATCH 256
#define MAX_ROUNDS 8 /* batches per readable event before yielding to the event loop */

typedef struct {
  int id;
  int used;
  int fd;
  int batch;
  int slot;
  napi_env env;
  uv_poll_t poll;
  int polling;
  napi_ref in_ref, meta_ref, out_ref, outlen_ref, cb_ref;
  napi_async_context actx;
  unsigned char *in;
  int32_t *meta;
  unsigned char *out;
  int32_t *outlen;
  struct mmsghdr rmsg[MAX_BATCH];
  struct iovec riov[MAX_BATCH];
  struct sockaddr_storage raddr[MAX_BATCH];
  struct mmsghdr smsg[MAX_BATCH];
  struct iovec siov[MAX_BATCH];
} sock_t;

static sock_t *socks[MAX_SOCKETS];

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, err == EADDRINUSE ? "EADDRINUSE" : NULL, msg);
  return NULL;
}

static sock_t *get_sock(napi_env env, napi_value v) {
  int32_t id = -1;
  napi_get_value_int32(env, v, &id);
  if (id < 0 || id >= MAX_SOCKETS || !socks[id] || !socks[id]->used) {
    napi_throw_error(env, NULL, "udp_batch: bad socket id");
    return NULL;
  }
  return socks[id];
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t family = 4, port = 0, batch = 64, slot = 4096;
  char addr[64] = {0};
  size_t alen = 0;
  napi_get_value_int32(env, argv[0], &family);
  napi_get_value_string_utf8(env, argv[1], addr, sizeof addr, &alen);
  napi_get_value_int32(env, argv[2], &port);
  napi_get_value_int32(env, argv[3], &batch);
  napi_get_value_int32(env, argv[4], &slot);
  if (batch < 1 || batch > MAX_BATCH || slot < 512 || slot > 65536) {
    napi_throw_range_error(env, NULL, "udp_batch: bad batch or slot size");
    return NULL;
  }
  int id = -1;
  for (int i = 0; i < MAX_SOCKETS; i++)
    if (!socks[i]) { id = i; break; }
  if (id < 0) { napi_throw_error(env, NULL, "udp_batch: too many sockets"); return NULL; }

  struct sockaddr_storage ss;
  socklen_t sslen;
  memset(&ss, 0, sizeof ss);
  if (family == 6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1) { napi_throw_error(env, NULL, "udp_batch: bad IPv6 address"); return NULL; }
    sslen = sizeof *s6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1) { napi_throw_error(env, NULL, "udp_batch: bad IPv4 address"); return NULL; }
    sslen = sizeof *s4;
  }
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1, bufsz = 4 << 20;
  if (family == 6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
  if (bind(fd, (struct sockaddr *)&ss, sslen) < 0) {
    int e = errno;
    close(fd);
    char what[128];
    snprintf(what, sizeof what, "bind %s port %d/udp", addr, port);
    return throw_errno(env, what, e);
  }
  getsockname(fd, (struct sockaddr *)&ss, &sslen);
  int bound = family == 6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) : ntohs(((struct sockaddr_in *)&ss)->sin_port);

  sock_t *s = socks[id] = calloc(1, sizeof(sock_t));
  if (!s) { close(fd); napi_throw_error(env, NULL, "udp_batch: out of memory"); return NULL; }
  s->id = id;
  s->used = 1;
  s->fd = fd;
  s->batch = batch;
  s->slot = slot;
  s->env = env;

  napi_value res, v;
  napi_create_array_with_length(env, 2, &res);
  napi_create_int32(env, id, &v);
  napi_set_element(env, res, 0, v);
  napi_create_int32(env, bound, &v);
  napi_set_element(env, res, 1, v);
  return res;
}

static void on_readable(uv_poll_t *h, int status, int events) {
  sock_t *s = (sock_t *)h->data;
  if (status < 0 || !(events & UV_READABLE) || !s->used) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, global;
  napi_get_reference_value(env, s->cb_ref, &cb);
  napi_get_global(env, &global);
  for (int round = 0; round < MAX_ROUNDS; round++) {
    for (int i = 0; i < s->batch; i++) {
      s->riov[i].iov_base = s->in + (size_t)i * s->slot;
      s->riov[i].iov_len = s->slot;
      memset(&s->rmsg[i].msg_hdr, 0, sizeof(struct msghdr));
      s->rmsg[i].msg_hdr.msg_iov = &s->riov[i];
      s->rmsg[i].msg_hdr.msg_iovlen = 1;
      s->rmsg[i].msg_hdr.msg_name = &s->raddr[i];
      s->rmsg[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    }
    int n = recvmmsg(s->fd, s->rmsg, s->batch, MSG_DONTWAIT, NULL);
    if (n <= 0) break;
    for (int i = 0; i < n; i++) {
      int32_t *m = s->meta + i * 8;
      m[0] = (s->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) ? -1 : (int32_t)s->rmsg[i].msg_len;
      unsigned char *a = (unsigned char *)(m + 4);
      if (s->raddr[i].ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&s->raddr[i];
        m[1] = 6;
        m[2] = ntohs(s6->sin6_port);
        memcpy(a, &s6->sin6_addr, 16);
      } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&s->raddr[i];
        m[1] = 4;
        m[2] = ntohs(s4->sin_port);
        memcpy(a, &s4->sin_addr, 4);
      }
      s->outlen[i] = 0;
    }
    napi_value argv[1], result;
    napi_create_int32(env, n, &argv[0]);
    /* make_callback (not call_function): runs queued microtasks and ticks afterwards */
    if (napi_make_callback(env, s->actx, global, cb, 1, argv, &result) != napi_ok) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc); /* JS handles its own errors; never crash here */
    }
    if (!s->used) break; /* closed from inside the callback */
    int k = 0;
    for (int i = 0; i < n; i++) {
      int32_t len = s->outlen[i];
      if (len <= 0 || len > s->slot) continue;
      s->siov[k].iov_base = s->out + (size_t)i * s->slot;
      s->siov[k].iov_len = (size_t)len;
      memset(&s->smsg[k].msg_hdr, 0, sizeof(struct msghdr));
      s->smsg[k].msg_hdr.msg_iov = &s->siov[k];
      s->smsg[k].msg_hdr.msg_iovlen = 1;
      s->smsg[k].msg_hdr.msg_name = &s->raddr[i];
      s->smsg[k].msg_hdr.msg_namelen = s->rmsg[i].msg_hdr.msg_namelen;
      k++;
    }
    int sent = 0;
    while (sent < k) {
      int r = sendmmsg(s->fd, s->smsg + sent, k - sent, MSG_DONTWAIT);
      if (r > 0) sent += r;
      else if (r < 0 && errno == EINTR) continue;
      else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break; /* full: drop, like a lost datagram */
      else sent++; /* skip a datagram the kernel refuses (e.g. unreachable) */
    }
    if (n < s->batch) break;
  }
  napi_close_handle_scope(env, scope);
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  sock_t *s = get_sock(env, argv[0]);
  if (!s) return NULL;
  size_t len;
  void *data;
  napi_get_buffer_info(env, argv[1], &data, &len);
  if (len < (size_t)s->batch * s->slot) { napi_throw_range_error(env, NULL, "inBuf too small"); return NULL; }
  s->in = data;
  napi_typedarray_type t;
  size_t n;
  napi_value ab;
  size_t off;
  napi_get_typedarray_info(env, argv[2], &t, &n, &data, &ab, &off);
  if (t != napi_int32_array || n < (size_t)s->batch * 8) { napi_throw_range_error(env, NULL, "meta too small"); return NULL; }
  s->meta = data;
  napi_get_buffer_info(env, argv[3], &data, &len);
  if (len < (size_t)s->batch * s->slot) { napi_throw_range_error(env, NULL, "outBuf too small"); return NULL; }
  s->out = data;
  napi_get_typedarray_info(env, argv[4], &t, &n, &data, &ab, &off);
  if (t != napi_int32_array || n < (size_t)s->batch) { napi_throw_range_error(env, NULL, "outLen too small"); return NULL; }
  s->outlen = data;
  napi_create_reference(env, argv[1], 1, &s->in_ref);
  napi_create_reference(env, argv[2], 1, &s->meta_ref);
  napi_create_reference(env, argv[3], 1, &s->out_ref);
  napi_create_reference(env, argv[4], 1, &s->outlen_ref);
  napi_create_reference(env, argv[5], 1, &s->cb_ref);
  napi_value name;
  napi_create_string_utf8(env, "quorumbl.udp", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &s->actx);
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  uv_poll_init(loop, &s->poll, s->fd);
  s->poll.data = s;
  uv_poll_start(&s->poll, UV_READABLE, on_readable);
  s->polling = 1;
  return NULL;
}

static void on_poll_closed(uv_handle_t *h) {
  sock_t *s = (sock_t *)h->data;
  close(s->fd);
  socks[s->id] = NULL;
  free(s);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  sock_t *s = get_sock(env, argv[0]);
  if (!s) return NULL;
  s->used = 0;
  if (s->polling) {
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_poll_closed);
    s->polling = 0;
    napi_delete_reference(env, s->in_ref);
    napi_delete_reference(env, s->meta_ref);
    napi_delete_reference(env, s->out_ref);
    napi_delete_reference(env, s->outlen_ref);
    napi_delete_reference(env, s->cb_ref);
    napi_async_destroy(env, s->actx);
  } else {
    close(s->fd);
    socks[s->id] = NULL;
    free(s);
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
    {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 3, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
