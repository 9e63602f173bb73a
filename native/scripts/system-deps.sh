#!/usr/bin/env bash
# Checks the Debian packages wolfguard needs and installs the missing ones.
#   build: compilers, autotools (wolfSSL's build), mimalloc, libcrypt, openssl
#   tools: the real peers of the end-to-end tests and benchmarks
# WOLFGUARD_SKIP_SYSTEM_DEPS=1 skips all of it.
set -euo pipefail

BUILD_PKGS=(build-essential autoconf automake libtool pkg-config libmimalloc-dev libcrypt-dev openssl ca-certificates xz-utils)
TOOL_PKGS=(openconnect ocserv iperf3 redis-server socat iproute2 iputils-ping procps util-linux tcpdump)

if [[ "${WOLFGUARD_SKIP_SYSTEM_DEPS:-}" == "1" ]]; then
  echo "system-deps: skipped (WOLFGUARD_SKIP_SYSTEM_DEPS=1)"
  exit 0
fi

missing() {
  local p out=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || out+=("$p")
  done
  echo "${out[*]:-}"
}

if ! command -v dpkg-query >/dev/null; then
  echo "system-deps: this is not a Debian-based system; install the equivalents of: ${BUILD_PKGS[*]} ${TOOL_PKGS[*]}" >&2
  exit 1
fi

need_build=$(missing "${BUILD_PKGS[@]}")
need_tools=$(missing "${TOOL_PKGS[@]}")
if [[ -z "$need_build" && -z "$need_tools" ]]; then
  echo "system-deps: all Debian packages present"
  exit 0
fi

want="$need_build $need_tools"
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "system-deps: installing: $want"
  export DEBIAN_FRONTEND=noninteractive
  # Package scripts must not start services (ocserv, redis) on this machine:
  # the tests start their own instances on their own ports.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
  fi
  trap '[[ $created_policy == 1 ]] && rm -f "$policy"' EXIT
  apt-get update -qq
  # shellcheck disable=SC2086
  if apt-get install -y -qq --no-install-recommends $want < /dev/null; then
    exit 0
  fi
  echo "system-deps: apt-get install failed" >&2
fi

if [[ -n "$need_build" ]]; then
  echo "system-deps: missing build packages. As root, run:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends $need_build $need_tools" >&2
  exit 1
fi
echo "system-deps: WARNING: missing test/bench tools ($need_tools); the end-to-end tests and benchmarks need them:" >&2
echo "  apt-get update && apt-get install -y --no-install-recommends $need_tools" >&2
