/* Puts the calling thread under SCHED_IDLE: it then runs only on CPU time no normal thread
   wants, and never preempts one. The merge and reload worker threads call it on themselves.
   Node has no binding for sched_setscheduler; os.setPriority (nice) only ranks threads of one
   process group against each other, which a DNS client or an MTA in another group is not. */

#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <sched.h>

/* idleThisThread(): 0 on success, else the errno (ENOSYS where there is no SCHED_IDLE). */
static napi_value js_idle(napi_env env, napi_callback_info info) {
  (void)info;
  int err = ENOSYS;
#ifdef SCHED_IDLE
  struct sched_param p = {0};
  /* pid 0: on Linux, the calling thread only */
  err = sched_setscheduler(0, SCHED_IDLE, &p) == 0 ? 0 : errno;
#endif
  napi_value res;
  napi_create_int32(env, err, &res);
  return res;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"idleThisThread", NULL, js_idle, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 1, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
