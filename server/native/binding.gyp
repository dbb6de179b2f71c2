{
  "targets": [
    {
      "target_name": "udp_batch",
      "sources": ["udp_batch.c"],
      "cflags": ["-O2", "-Wall"]
    },
    {
      "target_name": "merge_sweep",
      "sources": ["merge_sweep.c"],
      "cflags": ["-O2", "-Wall"]
    },
    {
      "target_name": "thread_prio",
      "sources": ["thread_prio.c"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
