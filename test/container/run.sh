#!/usr/bin/env bash
# The container check (`npm run test:container`; .ci/run runs it after `npm test`): builds the
# image from Containerfile with podman, runs it and checks it as a user would:
#   A. empty /data volume, no network: the embedded default config answers dig at once (bl test
#      point, demo zone); the HEALTHCHECK (/readyz) says unready, naming the default sources'
#      mirror zones that have no data; the process runs as the non-root user, no capability.
#   B. /data/quorumbl.yaml with a file source: `quorumbl sync` in the container fills its mirror
#      zone; an API token made with `podman exec … quorumbl token create` adds a deny through
#      the REST API and dig sees the answer change; the healthcheck finds web.listen in the file.
# No registry is reachable here, so the base images are built locally (debootstrap bookworm
# minbase + this machine's node 20, `podman import`) and cached in $CACHE with podman's vfs
# storage; later runs reuse them (delete $CACHE to rebuild). Containers run with
# --network=none (no bridge, no iptables, no ports to collide with); dig and curl reach them
# through `nsenter --net`. Everything this run creates is removed at exit, the bases are kept.
# Prints the figures: base build time (cold runs only), image build time, image size.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ]; then exec sudo -E bash "$0" "$@"; fi # rootful podman: vfs storage, runc

CACHE=${QBL_CONTAINER_CACHE:-/var/tmp/quorumbl-container}
MIRROR=${QBL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE=localhost/quorumbl-base:bookworm-node20
BUILD_BASE=localhost/quorumbl-build-base:bookworm-node20
tag="t$$-$RANDOM"
IMAGE=localhost/quorumbl-test:$tag
# While working on the checks: QBL_CONTAINER_IMAGE=an image already in $CACHE's storage skips
# the build (and is not removed).
REUSE=${QBL_CONTAINER_IMAGE:-}

missing=()
for t in podman runc debootstrap dig curl nsenter node; do command -v "$t" >/dev/null || missing+=("$t"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "not ok - required tools missing: ${missing[*]} (apt-get install podman runc debootstrap bind9-dnsutils curl util-linux)" >&2
  exit 1
fi

mkdir -p "$CACHE"
# Flags that work on this kind of machine (reference/tooling.md): vfs storage, cgroupfs, runc
# (crun fails on hybrid cgroups), explicit ulimits (no CAP_SYS_RESOURCE), chroot isolation
# for RUN steps with the host network, never a pull.
P=(podman --storage-driver=vfs --root "$CACHE/storage" --runroot "$CACHE/runroot" --cgroup-manager=cgroupfs
   --events-backend=file --runtime=runc)
nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=65536
[ "$nofile" -gt 65536 ] && nofile=65536
ULIMITS=(--ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096)

work=$(mktemp -d /tmp/quorumbl-container.XXXXXX)
containers=()
failed=0
cleanup() {
  set +e
  if [ "$failed" != 0 ]; then
    for c in "${containers[@]}"; do echo "--- logs of $c"; "${P[@]}" logs "$c" 2>&1 | tail -40; done
  fi
  for c in "${containers[@]}"; do "${P[@]}" rm -f -t 5 "$c" >/dev/null 2>&1; done
  "${P[@]}" volume rm -f "qbl-$tag" >/dev/null 2>&1
  [ -n "$REUSE" ] || "${P[@]}" rmi -f "$IMAGE" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
fail() { failed=1; echo "not ok - $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------------------------------------
# Local base images: Debian bookworm minbase + node 20 (run), + npm and node's headers (build).
build_bases() {
  local t0 rootfs_tar="$CACHE/bookworm-minbase.tar" stage="$work/stage"
  t0=$(now)
  if [ ! -s "$rootfs_tar" ]; then
    debootstrap --variant=minbase bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log"; fail "debootstrap bookworm from $MIRROR"; }
    chroot "$work/rootfs" apt-get clean
    rm -rf "$work/rootfs"/var/lib/apt/lists/* "$work/rootfs"/usr/share/doc/* "$work/rootfs"/usr/share/man/* \
      "$work/rootfs"/var/log/*.log "$work/rootfs"/var/cache/debconf/*-old
    tar -C "$work/rootfs" --numeric-owner -cf "$rootfs_tar.part" . && mv "$rootfs_tar.part" "$rootfs_tar"
    rm -rf "$work/rootfs"
  fi
  mkdir -p "$stage" && tar -C "$stage" --numeric-owner -xf "$rootfs_tar"
  # This machine's node 20 (it needs only glibc and libstdc++, both in minbase).
  install -m 0755 "$(readlink -f "$(command -v node)")" "$stage/usr/bin/node"
  # CAs the host trusts beyond Debian's (an egress proxy's): npm and apt inside the build see
  # the same network the host does. update-ca-certificates folds them in with ca-certificates.
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    mkdir -p "$stage/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$stage/usr/local/share/ca-certificates/"
  fi
  local changes=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["/bin/bash"]')
  tar -C "$stage" --numeric-owner -c . | "${P[@]}" import "${changes[@]}" - "$BASE" >>"$work/import.log" 2>&1 \
    || { cat "$work/import.log"; fail "podman import $BASE"; }
  local npm_dir include_dir
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  include_dir=$(npm config get nodedir 2>/dev/null || true)
  [ -f "${include_dir:-/usr}/include/node/node_api.h" ] || include_dir=/usr
  [ -f "$include_dir/include/node/node_api.h" ] || fail "node's C headers not found (include/node/node_api.h under \$(npm config get nodedir) or /usr)"
  mkdir -p "$stage/usr/lib/node_modules" "$stage/usr/include"
  cp -a "$npm_dir" "$stage/usr/lib/node_modules/npm"
  cp -a "$include_dir/include/node" "$stage/usr/include/node"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$stage/usr/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$stage/usr/bin/npx"
  tar -C "$stage" --numeric-owner -c . | "${P[@]}" import "${changes[@]}" - "$BUILD_BASE" >>"$work/import.log" 2>&1 \
    || { cat "$work/import.log"; fail "podman import $BUILD_BASE"; }
  rm -rf "$stage"
  echo "# base images built in $(secs "$t0" "$(now)") s ($BASE, $BUILD_BASE; cached in $CACHE)"
}

if "${P[@]}" image exists "$BASE" && "${P[@]}" image exists "$BUILD_BASE"; then
  echo "# base images cached in $CACHE"
else
  build_bases
fi

# ---------------------------------------------------------------------------------------------
# The image.
if [ -n "$REUSE" ]; then
IMAGE=$REUSE
build_s="(not built: QBL_CONTAINER_IMAGE)"
else
t0=$(now)
"${P[@]}" build --format docker --pull=never --layers=false --isolation=chroot --network=host "${ULIMITS[@]}" \
  --build-arg "BASE=$BASE" --build-arg "BUILD_BASE=$BUILD_BASE" -f Containerfile -t "$IMAGE" . >"$work/build.log" 2>&1 \
  || { tail -40 "$work/build.log"; fail "podman build"; }
build_s=$(secs "$t0" "$(now)")
echo "# image built in $build_s s"
ok "podman build"
fi
size=$("${P[@]}" image inspect -f '{{.Size}}' "$IMAGE")
echo "# image size $((size / 1000000)) MB"

cfg=$("${P[@]}" image inspect -f '{{.Config.User}}|{{json .Config.ExposedPorts}}|{{json .Config.Volumes}}|{{json .Config.Healthcheck.Test}}' "$IMAGE")
[[ $cfg == quorumbl\|* ]] || fail "image user is not quorumbl: $cfg"
for p in 53/udp 53/tcp 8053/tcp; do [[ $cfg == *\"$p\"* ]] || fail "image does not expose $p: $cfg"; done
[[ $cfg == *'"/data"'* ]] || fail "image has no /data volume: $cfg"
[[ $cfg == *readyz* || $cfg == *healthcheck.mjs* ]] || fail "image has no HEALTHCHECK: $cfg"
ok "image config: user quorumbl, ports 53/udp 53/tcp 8053/tcp, volume /data, HEALTHCHECK"

# --health-interval=disable: no systemd timer for the HEALTHCHECK (PID 1 is not systemd here);
# `podman healthcheck run` still runs it.
RUN=(run -d "${ULIMITS[@]}" --network=none --sysctl net.ipv4.ip_unprivileged_port_start=53 --health-interval=disable)

# Waits (bounded) until the container's HEALTHCHECK passes.
wait_healthy() {
  local c=$1 end=$((SECONDS + 180))
  while [ $SECONDS -lt $end ]; do
    if "${P[@]}" healthcheck run "$c" >/dev/null 2>&1; then return 0; fi
    [ "$("${P[@]}" inspect -f '{{.State.Running}}' "$c")" = true ] || fail "$c exited before it was ready"
    sleep 1
  done
  fail "$c: the healthcheck (/readyz) did not pass within 180 s: $("${P[@]}" exec "$c" node /app/deploy/container/healthcheck.mjs 2>&1 | head -c 600)"
}
# dig inside the container's network namespace; prints "STATUS ANSWERS...".
qdig() {
  local pid=$1 name=$2 type=${3:-A} out status
  out=$(nsenter --target "$pid" --net dig +tries=1 +time=3 @127.0.0.1 -p 53 "$name" "$type") || return 1
  status=$(sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$out")
  echo "$status $(dig_answers <<<"$out")"
}
dig_answers() { awk '/^;; ANSWER SECTION/ { a = 1; next } /^$/ { a = 0 } a && $1 !~ /^;/ { printf "%s ", $NF }'; }
expect_dig() {
  local pid=$1 name=$2 type=$3 want=$4 got i
  for i in $(seq 1 20); do
    got=$(qdig "$pid" "$name" "$type" || echo "no answer")
    [[ $got == $want ]] && { ok "dig $name $type -> $got"; return 0; }
    sleep 0.5
  done
  fail "dig $name $type: want '$want', got '$got'"
}

# ---------------------------------------------------------------------------------------------
# A. Empty volume: the embedded default config, offline (--network=none): DNS answers at once
# from the merged zones and the demo zone; /readyz (the HEALTHCHECK) stays unready, naming the
# default sources' mirror zones that have no data (their upstreams cannot be reached).
"${P[@]}" volume create "qbl-$tag" >/dev/null
a="qbl-a-$tag"; containers+=("$a")
t0=$(now)
# (podman 4.3 still logs that it cannot reach systemd for a healthcheck timer: kept in run.err)
"${P[@]}" "${RUN[@]}" --name "$a" -v "qbl-$tag:/data" "$IMAGE" >/dev/null 2>"$work/run.err" \
  || { cat "$work/run.err"; fail "podman run (embedded default)"; }
pa=$("${P[@]}" inspect -f '{{.State.Pid}}' "$a")
end=$((SECONDS + 180))
until [[ $(qdig "$pa" 2.0.0.127.bl.dnsbl.internal A 2>/dev/null) == NOERROR\ 127.* ]]; do
  [ "$("${P[@]}" inspect -f '{{.State.Running}}' "$a")" = true ] || fail "A: the container exited"
  [ $SECONDS -lt $end ] || fail "A: no DNS answer within 180 s"
  sleep 1
done
ok "A: embedded default config answers DNS $(secs "$t0" "$(now)") s after podman run"
expect_dig "$pa" 2.0.0.127.bl.dnsbl.internal A 'NOERROR 127.0.0.*'
expect_dig "$pa" 1.0.0.127.bl.dnsbl.internal A 'NXDOMAIN *'
expect_dig "$pa" 2.0.0.127.demo.dnsbl.internal A 'NOERROR 127.0.0.2 '
if "${P[@]}" healthcheck run "$a" >/dev/null 2>&1; then fail "A: healthcheck passed although the mirrors have no data"; fi
msg=$("${P[@]}" exec "$a" node /app/deploy/container/healthcheck.mjs 2>&1 || true)
[[ $msg == *"HTTP 503"*"psbl.mirror.dnsbl.internal"* ]] || fail "A: healthcheck output: $msg"
ok "A: healthcheck (GET /readyz) fails offline, naming the mirror zones without data"
read -r _ uid _ < <(grep '^Uid:' "/proc/$pa/status")
capeff=$(awk '/^CapEff:/ { print $2 }' "/proc/$pa/status")
[ "$uid" = 10053 ] || fail "A: serve runs as uid $uid, not quorumbl (10053)"
[ "$capeff" = 0000000000000000 ] || fail "A: serve has effective capabilities $capeff"
[ "$("${P[@]}" exec "$a" id -un)" = quorumbl ] || fail "A: podman exec does not run as quorumbl"
"${P[@]}" exec "$a" test -s /data/state/quorumbl.sqlite || fail "A: no state database in /data/state"
ok "A: serve runs as quorumbl (uid 10053, no capabilities) and keeps its state in /data/state"

# ---------------------------------------------------------------------------------------------
# B. /data/quorumbl.yaml with a file source (mirror zone) and the web listener on 8080.
data="$work/data"
mkdir -p "$data/upstream"
printf '127.0.0.2\n198.51.100.5\n198.51.100.6\n' >"$data/upstream/list.txt"
cat >"$data/quorumbl.yaml" <<'YAML'
server: { listen: ["0.0.0.0:53"] }
web: { listen: "0.0.0.0:8080" }
base: dnsbl.test
sources:
  - name: local
    kind: ip
    fetch: /data/upstream/list.txt
    format: plain
    schedule: "0 0 1 1 *"
    guards: { test_point: true }
    answer: { a: 127.0.0.4, txt: "Listed by local: $" }
YAML
chown -R 10053:10053 "$data"
b="qbl-b-$tag"; containers+=("$b")
"${P[@]}" "${RUN[@]}" --name "$b" -v "$data:/data" "$IMAGE" >/dev/null 2>"$work/run.err" \
  || { cat "$work/run.err"; fail "podman run (config in /data)"; }
wait_healthy "$b"
ok "B: /data/quorumbl.yaml served and ready (its source synced at start); the healthcheck found web.listen 0.0.0.0:8080 in it"
pb=$("${P[@]}" inspect -f '{{.State.Pid}}' "$b")
"${P[@]}" exec "$b" quorumbl sync >"$work/sync.log" 2>&1 || { cat "$work/sync.log"; fail "B: quorumbl sync in the container"; }
ok "B: podman exec … quorumbl sync (the source from /data/quorumbl.yaml)"
expect_dig "$pb" 5.100.51.198.local.mirror.dnsbl.test A 'NOERROR 127.0.0.4 '
expect_dig "$pb" 2.0.0.127.local.mirror.dnsbl.test A 'NOERROR 127.0.0.4 '
expect_dig "$pb" 2.0.0.127.bl.dnsbl.test A 'NOERROR 127.0.0.*'
expect_dig "$pb" 77.100.51.198.bl.dnsbl.test A 'NXDOMAIN *'

token=$("${P[@]}" exec "$b" quorumbl token create --name container-test --scope overrides 2>/dev/null) || fail "B: quorumbl token create"
[ -n "$token" ] || fail "B: token create printed no token"
ok "B: podman exec … quorumbl token create"
code=$(nsenter --target "$pb" --net curl -sS -o "$work/override.json" -w '%{http_code}' --max-time 30 \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"action":"deny","key":"198.51.100.77","reason":"container test"}' http://127.0.0.1:8080/api/v1/overrides) \
  || fail "B: POST /api/v1/overrides"
[ "$code" = 201 ] || fail "B: POST /api/v1/overrides -> $code $(cat "$work/override.json")"
ok "B: POST /api/v1/overrides (deny 198.51.100.77) -> 201"
expect_dig "$pb" 77.100.51.198.bl.dnsbl.test A 'NOERROR 127.0.0.*'
read -r _ uid _ < <(grep '^Uid:' "/proc/$pb/status")
[ "$uid" = 10053 ] || fail "B: serve runs as uid $uid"
ok "B: serve runs as quorumbl (uid 10053)"

echo "# figures: image build $build_s s, image size $((size / 1000000)) MB"
