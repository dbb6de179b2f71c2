// The IPv4 evidence sweep of sync/merge/evidence.ts in C: a K-way merge of the boundary
// streams of sorted, disjoint RangeSets into elementary intervals tagged with class ids. The JS
// loop there is the reference; this one writes the same arrays, bit for bit.
//
// JS API (see sync/merge/native-sweep.ts):
//   sweep4(S, E, nSources, pos, state, direct, outStarts, outCls, budget) -> 0 | 1 | 2
//     S, E       arrays of K Uint32Array: stream k's range starts and inclusive ends
//     pos        Int32Array(K): stream k's next boundary (even = S[k][p/2], odd = E[k][p/2]+1;
//                a range ending at 0xffffffff closes nothing)
//     state      Float64Array(5): [smask, pmask, m (entries written), cur, boundaries swept]
//     direct     Int32Array(>= 2^K): class id of (smask | pmask << nSources), -1 = not interned
//     outStarts  Uint32Array, outCls Uint16Array: entries [0, m) are the output so far
//     budget     boundaries to sweep in this call at most
//   Returns 0 = done; 1 = the class at state.cur is not interned (JS interns it, writes that
//   entry, calls again); 2 = budget used up (JS paces, calls again). Bad arguments throw.
//
// Why it is fast: stream k's bit in the class key is bit k (sources first, providers above), so
// a boundary toggles one bit. For K <= 16 the streams' heads live in registers, packed as
// boundary << 6 | k, so a tree of branch-free mins yields the next boundary and its stream; the
// stream's following head is loaded one step ahead, keeping memory off the critical path. The
// loop stays a dependency chain (each step needs the last min), so what counts is its length.

#include <node_api.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#define MAX_HALF 32                 /* sources, and providers: each mask is a uint32 */
#define MAX_STREAMS (2 * MAX_HALF)  /* K: one bit each in a uint64 key */
#define MAX_KEY_BITS 31             /* direct tables larger than 2^31 entries are not a thing */
#define DONE ((uint64_t)1 << 32)    /* above every boundary: the stream is exhausted */
#define MAX_EXACT 9007199254740992.0 /* 2^53: doubles hold integers exactly up to here */
#define NARGS 9
#define MAX_LANES 16               /* streams kept in registers, at most */

__attribute__((format(printf, 3, 4))) static napi_value fail(napi_env env, int range, const char *fmt, ...) {
  char msg[256];
  int n = snprintf(msg, sizeof msg, "merge_sweep.sweep4: ");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
  va_end(ap);
  if (range) napi_throw_range_error(env, NULL, msg);
  else napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static const char *type_name(napi_typedarray_type t) {
  switch (t) {
    case napi_uint16_array: return "a Uint16Array";
    case napi_int32_array: return "an Int32Array";
    case napi_uint32_array: return "a Uint32Array";
    case napi_float64_array: return "a Float64Array";
    default: return "a typed array";
  }
}

/* Data and length of a typed array of the wanted type; 0 (TypeError thrown) otherwise. */
static int typed(napi_env env, napi_value v, napi_typedarray_type want, const char *what, void **data, size_t *len) {
  bool is = false;
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &t, len, data, &ab, &off) != napi_ok || t != want) {
    fail(env, 0, "%s must be %s", what, type_name(want));
    return 0;
  }
  return 1;
}

/* A double that is an integer in [0, max]: NaN and fractions fail too. */
static int is_whole(double d, double max) {
  return d >= 0 && d <= max && d == (double)(uint64_t)d;
}

/* A JS number that is an integer in [0, max]; 0 (error thrown) otherwise. */
static int whole(napi_env env, napi_value v, double max, const char *what, uint64_t *out) {
  napi_valuetype vt;
  double d = -1;
  if (napi_typeof(env, v, &vt) != napi_ok || vt != napi_number) {
    fail(env, 0, "%s must be a number", what);
    return 0;
  }
  napi_get_value_double(env, v, &d);
  if (!is_whole(d, max)) {
    fail(env, 1, "%s must be an integer in [0, %.0f], got %g", what, max, d);
    return 0;
  }
  *out = (uint64_t)d;
  return 1;
}

/* Gets the K typed arrays of a JS array (S or E). */
static int streams(napi_env env, napi_value arr, const char *what, uint32_t K, const uint32_t **data, size_t *len) {
  for (uint32_t k = 0; k < K; k++) {
    napi_value el;
    char name[32];
    snprintf(name, sizeof name, "%s[%u]", what, k);
    if (napi_get_element(env, arr, k, &el) != napi_ok) {
      fail(env, 0, "cannot read %s", name);
      return 0;
    }
    void *d;
    if (!typed(env, el, napi_uint32_array, name, &d, &len[k])) return 0;
    data[k] = d;
  }
  return 1;
}

/* Stream k's boundary p as a uint64: end + 1 of a range ending at 2^32-1 is DONE itself. */
static inline uint64_t boundary(const uint32_t *s, const uint32_t *e, uint64_t n2, uint64_t p) {
  if (p >= n2) return DONE;
  uint64_t i = p >> 1;
  uint64_t odd = -(uint64_t)(p & 1); /* all ones at an end: select without a branch */
  return ((uint64_t)s[i] & ~odd) | (((uint64_t)e[i] + 1) & odd);
}

/* One call's work on validated arguments (all indices in bounds: see js_sweep4). */
typedef struct {
  uint32_t K;
  const uint32_t *S[MAX_STREAMS], *E[MAX_STREAMS];
  uint64_t n2[MAX_STREAMS];
  int32_t *pos;
  const int32_t *direct;
  uint32_t *outStarts;
  uint16_t *outCls;
  uint64_t key;    /* in and out: bit k = inside a range of stream k */
  uint64_t m;      /* in and out: entries written */
  uint64_t budget; /* in: boundaries at most */
  uint64_t swept;  /* out: boundaries swept */
  uint64_t cur;    /* out: the last boundary swept, DONE at the end */
} sweep_t;

/* Any K: heads in an array, a min pass then an equality pass (branch-free: which stream comes
   next is random, a branch on it mispredicts). Returns 0 = done, 1 = the class of key is not
   interned, 2 = budget used, -1 = direct[key] is not a class id. */
static int sweep_any(sweep_t *w) {
  const uint32_t K = w->K;
  uint64_t head[MAX_STREAMS];
  for (uint32_t k = 0; k < K; k++) head[k] = boundary(w->S[k], w->E[k], w->n2[k], (uint64_t)w->pos[k]);
  int32_t *pos = w->pos;
  const int32_t *direct = w->direct;
  uint32_t *outStarts = w->outStarts;
  uint16_t *outCls = w->outCls;
  uint64_t key = w->key, m = w->m, budget = w->budget;
  uint16_t last = outCls[m - 1];
  uint64_t swept = 0;
  uint64_t cur = DONE;
  int ret = 0;

  for (;;) {
    if (swept == budget) { ret = 2; break; }
    cur = DONE;
    for (uint32_t k = 0; k < K; k++) cur = head[k] < cur ? head[k] : cur;
    if (cur == DONE) break;
    uint64_t at = 0;
    for (uint32_t k = 0; k < K; k++) at |= (uint64_t)(head[k] == cur) << k;
    swept++;
    key ^= at;
    do {
      uint32_t k = (uint32_t)__builtin_ctzll(at);
      at &= at - 1;
      uint64_t p = (uint64_t)pos[k] + 1;
      pos[k] = (int32_t)p;
      head[k] = boundary(w->S[k], w->E[k], w->n2[k], p);
    } while (at);

    int32_t c = direct[key];
    if ((uint32_t)c > 0xffff) {
      ret = c < 0 ? 1 : -1;
      break;
    }
    if (cur == 0) outCls[0] = (uint16_t)c; /* only the first boundary can be 0 */
    else {
      /* write unconditionally, keep it only when the class changes: no branch to mispredict */
      outStarts[m] = (uint32_t)cur;
      outCls[m] = (uint16_t)c;
      m += c != last;
    }
    last = (uint16_t)c;
  }
  w->key = key;
  w->m = m;
  w->swept = swept;
  w->cur = cur;
  return ret;
}

static inline uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* boundary << 6 | stream: heads never tie, and the min names its stream */
#define PACK(b, k) ((b) << 6 | (k))

/* K <= NL streams, NL a constant <= MAX_LANES (inlined per NL, so the fixed-size arrays
   indexed by constants become registers); lanes >= K stay DONE. Same contract as
   sweep_any, one stream boundary per step: a boundary value is emitted once the min moves
   past it, i.e. when every stream at it has toggled. */
static inline __attribute__((always_inline)) int sweep_lanes(sweep_t *w, const uint32_t NL) {
  const uint32_t K = w->K;
  uint64_t h[MAX_LANES], nx[MAX_LANES], p[MAX_LANES], n2[MAX_LANES];
  const uint32_t *S[MAX_LANES], *E[MAX_LANES];
#pragma GCC unroll 16
  for (uint32_t k = 0; k < NL; k++) {
    if (k < K) {
      p[k] = (uint64_t)w->pos[k];
      S[k] = w->S[k];
      E[k] = w->E[k];
      n2[k] = w->n2[k];
      h[k] = PACK(boundary(S[k], E[k], n2[k], p[k]), k);
      nx[k] = PACK(boundary(S[k], E[k], n2[k], p[k] + 1), k);
    } else {
      p[k] = n2[k] = 0;
      S[k] = E[k] = NULL;
      h[k] = nx[k] = PACK(DONE, (uint64_t)k);
    }
  }
  const int32_t *direct = w->direct;
  uint32_t *outStarts = w->outStarts;
  uint16_t *outCls = w->outCls;
  uint64_t key = w->key, m = w->m, budget = w->budget;
  uint16_t last = outCls[m - 1];
  uint64_t swept = 0;
  uint64_t cur = DONE + 1; /* no boundary begun in this call */
  int ret = 0;
  for (;;) {
    uint64_t t[MAX_LANES];
#pragma GCC unroll 16
    for (uint32_t k = 0; k < NL; k++) t[k] = h[k];
#pragma GCC unroll 16
    for (uint32_t n = NL; n > 1; n = (n + 1) / 2) {
#pragma GCC unroll 16
      for (uint32_t k = 0; k < n / 2; k++) {
        t[k] = min64(t[k], t[k + (n + 1) / 2]);
        __asm__("" : "+r"(t[k])); /* keeps the tree: GCC would re-associate it into a chain */
      }
    }
    uint64_t x = t[0], v = x >> 6;
    if (v != cur) {
      if (cur <= DONE) { /* every stream at cur has toggled: emit it */
        int32_t c = direct[key];
        if ((uint32_t)c > 0xffff) {
          ret = c < 0 ? 1 : -1;
          break;
        }
        if (cur == 0) outCls[0] = (uint16_t)c;
        else {
          outStarts[m] = (uint32_t)cur;
          outCls[m] = (uint16_t)c;
          m += c != last;
        }
        last = (uint16_t)c;
        if (swept == budget) {
          ret = 2;
          break;
        }
      }
      cur = v;
      if (v == DONE) break;
      swept++;
    }
    uint32_t k = (uint32_t)(x & 63);
    key ^= (uint64_t)1 << k;
    uint64_t q = ++p[k];
    uint64_t nv = nx[k];
    nx[k] = PACK(boundary(S[k], E[k], n2[k], q + 1), k);
    /* the lane holding the min is stream k's: a compare and a cmov per lane, no branch */
#pragma GCC unroll 16
    for (uint32_t j = 0; j < NL; j++) h[j] = h[j] == x ? nv : h[j];
  }
  for (uint32_t k = 0; k < K; k++) w->pos[k] = (int32_t)p[k];
  w->key = key;
  w->m = m;
  w->swept = swept;
  w->cur = cur;
  return ret;
}

static int sweep_run(sweep_t *w) {
#define LANES(n) \
  case n: return sweep_lanes(w, n);
  switch (w->K) {
    case 0: LANES(1) LANES(2) LANES(3) LANES(4) LANES(5) LANES(6) LANES(7) LANES(8)
    LANES(9) LANES(10) LANES(11) LANES(12) LANES(13) LANES(14) LANES(15) LANES(16)
  }
#undef LANES
  return sweep_any(w); /* more lanes spill registers: no faster than the array loop */
}

/* The output arrays are fresh, untouched allocations (hundreds of MB for a full merge): ask for
   transparent huge pages before the first write, one page fault per 2 MB instead of per 4 KB.
   On VMs a fault can cost as much as the sweep does per page. Advice only: errors are ignored. */
static void advise_huge(void *p, size_t bytes) {
#ifdef MADV_HUGEPAGE
  const uintptr_t huge = (uintptr_t)2 << 20;
  if (bytes < 4 * huge) return;
  uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1);
  uintptr_t e = ((uintptr_t)p + bytes) & ~(huge - 1);
  if (e > a) madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

static napi_value js_sweep4(napi_env env, napi_callback_info info) {
  size_t argc = NARGS;
  napi_value argv[NARGS];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < NARGS) return fail(env, 0, "expects %d arguments, got %zu", NARGS, argc);

  /* S, E: arrays of K Uint32Array each, pairwise of equal length */
  bool isArr = false;
  uint32_t K = 0, KE = 0;
  if (napi_is_array(env, argv[0], &isArr) != napi_ok || !isArr) return fail(env, 0, "S must be an array of Uint32Array");
  if (napi_is_array(env, argv[1], &isArr) != napi_ok || !isArr) return fail(env, 0, "E must be an array of Uint32Array");
  napi_get_array_length(env, argv[0], &K);
  napi_get_array_length(env, argv[1], &KE);
  if (K != KE) return fail(env, 1, "S and E differ in length (%u, %u)", K, KE);
  if (K > MAX_STREAMS) return fail(env, 1, "at most %d streams, got %u", MAX_STREAMS, K);
  const uint32_t *S[MAX_STREAMS], *E[MAX_STREAMS];
  size_t slen[MAX_STREAMS], elen[MAX_STREAMS];
  if (!streams(env, argv[0], "S", K, S, slen) || !streams(env, argv[1], "E", K, E, elen)) return NULL;
  uint64_t n2[MAX_STREAMS]; /* boundaries of each stream */
  for (uint32_t k = 0; k < K; k++) {
    if (slen[k] != elen[k]) return fail(env, 1, "S[%u] and E[%u] differ in length (%zu, %zu)", k, k, slen[k], elen[k]);
    n2[k] = (uint64_t)slen[k] * 2;
    if (n2[k] > INT32_MAX) return fail(env, 1, "S[%u] has %zu ranges, pos cannot index them", k, slen[k]);
  }

  uint64_t nSources;
  if (!whole(env, argv[2], K < MAX_HALF ? K : MAX_HALF, "nSources", &nSources)) return NULL;
  if (K - nSources > MAX_HALF) return fail(env, 1, "at most %d provider streams, got %u", MAX_HALF, K - (uint32_t)nSources);

  void *d;
  size_t posLen, stateLen, directLen, startsLen, clsLen;
  if (!typed(env, argv[3], napi_int32_array, "pos", &d, &posLen)) return NULL;
  int32_t *pos = d;
  if (!typed(env, argv[4], napi_float64_array, "state", &d, &stateLen)) return NULL;
  double *state = d;
  if (!typed(env, argv[5], napi_int32_array, "direct", &d, &directLen)) return NULL;
  const int32_t *direct = d;
  if (!typed(env, argv[6], napi_uint32_array, "outStarts", &d, &startsLen)) return NULL;
  uint32_t *outStarts = d;
  if (!typed(env, argv[7], napi_uint16_array, "outCls", &d, &clsLen)) return NULL;
  uint16_t *outCls = d;
  uint64_t budget;
  if (!whole(env, argv[8], MAX_EXACT, "budget", &budget)) return NULL;
  if (budget == 0) return fail(env, 1, "budget must be at least 1");

  if (posLen != K) return fail(env, 1, "pos must have %u entries, has %zu", K, posLen);
  if (stateLen != 5) return fail(env, 1, "state must have 5 entries, has %zu", stateLen);
  if (K > MAX_KEY_BITS || directLen < ((size_t)1 << K))
    return fail(env, 1, "direct must have 2^%u entries, has %zu", K, directLen);
  size_t cap = startsLen < clsLen ? startsLen : clsLen;

  /* boundaries left: each iteration uses one at least and writes at index m at most, so
     m + left <= cap keeps every write in bounds, whatever the order of the inputs */
  uint64_t left = 0;
  for (uint32_t k = 0; k < K; k++) {
    if (pos[k] < 0 || (uint64_t)pos[k] > n2[k]) return fail(env, 1, "pos[%u] = %d is outside [0, %llu]", k, pos[k], (unsigned long long)n2[k]);
    left += n2[k] - (uint64_t)pos[k];
  }
  uint32_t nProv = K - (uint32_t)nSources;
  if (!is_whole(state[0], (double)(((uint64_t)1 << nSources) - 1))) return fail(env, 1, "state[0] (smask) is not a mask of %u sources", (uint32_t)nSources);
  if (!is_whole(state[1], (double)(((uint64_t)1 << nProv) - 1))) return fail(env, 1, "state[1] (pmask) is not a mask of %u providers", nProv);
  if (!is_whole(state[2], (double)cap) || state[2] < 1) return fail(env, 1, "state[2] (m) must be in [1, %zu]", cap);
  if (!is_whole(state[4], MAX_EXACT)) return fail(env, 1, "state[4] (boundaries swept) must be a count");
  uint64_t m = (uint64_t)state[2];
  if (m + left > cap) return fail(env, 1, "outStarts/outCls hold %zu entries, the sweep may need %llu", cap, (unsigned long long)(m + left));

  if (m == 1 && state[4] == 0) { /* the first call of a sweep */
    advise_huge(outStarts, startsLen * sizeof *outStarts);
    advise_huge(outCls, clsLen * sizeof *outCls);
  }

  sweep_t w;
  w.K = K;
  for (uint32_t k = 0; k < K; k++) {
    w.S[k] = S[k];
    w.E[k] = E[k];
    w.n2[k] = n2[k];
  }
  w.pos = pos;
  w.direct = direct;
  w.outStarts = outStarts;
  w.outCls = outCls;
  w.key = (uint64_t)state[0] | ((uint64_t)state[1] << nSources);
  w.m = m;
  w.budget = budget;
  int ret = sweep_run(&w);
  if (ret < 0) fail(env, 1, "direct[%llu] = %d is not a class id", (unsigned long long)w.key, direct[w.key]);
  m = w.m;

  /* a write that was not kept leaves junk at index m: zero it, as a fresh array has there */
  if (m < cap) {
    outStarts[m] = 0;
    outCls[m] = 0;
  }
  state[0] = (double)(uint32_t)(nSources ? w.key & (((uint64_t)1 << nSources) - 1) : 0);
  state[1] = (double)(uint32_t)(w.key >> nSources);
  state[2] = (double)m;
  state[3] = w.cur >= DONE ? 0 : (double)w.cur; /* read only after a stop */
  state[4] += (double)w.swept;
  if (ret < 0) return NULL;
  napi_value res;
  napi_create_int32(env, ret, &res);
  return res;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"sweep4", NULL, js_sweep4, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 1, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
