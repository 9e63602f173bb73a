#!/usr/bin/env bash
# Obtains and builds wolfSSL >= 5.8.2 for the addon, then points
# native/.wolfssl/prefix at the install prefix in use. Sources, in order:
#   WOLFSSL_PREFIX   an installed wolfSSL (checked for every needed feature)
#   WOLFSSL_TARBALL  a source tarball the user supplies
#   Debian's source package `wolfssl` from suite $WOLFSSL_DEBIAN_SUITE (sid)
# Builds are cached in native/.cache/wolfssl/<version>-<flags hash>/ and reused
# until the version or the flags change. The flags are recorded next to the
# build (build-info.json).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NATIVE="$ROOT/native"
CACHE="${WOLFSSL_CACHE_DIR:-$NATIVE/.cache/wolfssl}"
LINK_DIR="$NATIVE/.wolfssl"
MIN_VERSION=5.8.2
SUITE="${WOLFSSL_DEBIAN_SUITE:-sid}"

HAVE_AESNI=0
grep -qw aes /proc/cpuinfo 2>/dev/null && HAVE_AESNI=1

# The one list of configure flags, each with the reason it is there.
CONFIGURE_FLAGS=(
  --enable-static --disable-shared --with-pic   # linked into the addon, symbols hidden there
  --disable-examples --disable-crypttests --disable-benchmark  # nothing we run; faster build
  --enable-tls13                                 # TLS 1.3 for the control channel
  --enable-dtls --enable-dtls13                  # DTLS 1.2 (openconnect, Cisco) and 1.3 (our clients)
  --enable-dtlscid                               # DTLS connection IDs: sessions survive address changes
  --enable-dtls-mtu                              # wolfSSL_dtls_set_mtu: records sized to the tunnel MTU
  --enable-dtls-frag-ch                          # DTLS 1.3 ClientHellos larger than one datagram (PQ key shares)
  --enable-hrrcookie                             # stateless cookie in DTLS 1.3 / TLS 1.3 HelloRetryRequest
  --enable-psk                                   # openconnect's PSK-NEGOTIATE DTLS
  --enable-keying-material                       # RFC 5705 exporter: the DTLS PSK comes from it
  --enable-session-ticket                        # stateless resumption shared by all shards
  --enable-sessioncerts                          # peer certificate chain for certificate login
  --enable-crl                                   # revoked client certificates are refused
  --enable-curve25519                            # X25519 key exchange, what most clients offer first
  --enable-alpn --enable-sni                     # what TLS clients send; harmless when unused
  --enable-sp --enable-sp-asm                    # single-precision ECC/RSA math with x86-64 assembly
)
if [[ $HAVE_AESNI == 1 ]]; then
  CONFIGURE_FLAGS+=(--enable-aesni --enable-intelasm)  # AES-GCM and SHA with AES-NI/AVX2
else
  echo "wolfssl: WARNING: this CPU has no AES-NI; building without --enable-aesni --enable-intelasm (slower)" >&2
fi
# Static RSA suites: Cisco's legacy DTLS resumes AES128-GCM-SHA256 /
# AES256-GCM-SHA384. Static PSK suites: openconnect's PSK-NEGOTIATE is plain
# PSK key exchange (GnuTLS "+PSK"), not (EC)DHE-PSK. External session cache:
# Cisco's legacy DTLS resumes a session the server never negotiated (the
# client's X-DTLS-Master-Secret); only the get-callback plus
# wolfSSL_d2i_SSL_SESSION can hand wolfSSL such a session (no configure flag
# enables HAVE_EXT_CACHE alone; see native/src/dtls-legacy.cc).
# No getpid() in the RNG: wolfSSL draws an 8-byte explicit IV from its DRBG
# for every TLS 1.2 / DTLS 1.2 AEAD record, and the DRBG checks getpid() each
# time to notice a fork: a syscall per tunnel packet (measured: 9% of the
# gateway's CPU in a DTLS download of 200-byte packets, perf record). The
# gateway never forks without exec (Node spawns children with fork+exec and
# nothing between), so there is no forked copy of the DRBG state to guard.
# It lands in options.h (the WC_RNG layout depends on it), so the addon sees it.
EXTRA_CFLAGS="-O2 -DWOLFSSL_STATIC_RSA -DWOLFSSL_STATIC_PSK -DHAVE_EXT_CACHE -DWOLFSSL_NO_GETPID"

# Defines options.h must carry for the addon to work.
REQUIRED_DEFINES=(WOLFSSL_TLS13 WOLFSSL_DTLS WOLFSSL_DTLS13 WOLFSSL_DTLS_CID WOLFSSL_DTLS_MTU
  HAVE_KEYING_MATERIAL HAVE_SESSION_TICKET SESSION_CERTS HAVE_CRL WOLFSSL_STATIC_RSA WOLFSSL_STATIC_PSK HAVE_EXT_CACHE)
FEATURE_NAMES=("TLS 1.3" "DTLS" "DTLS 1.3" "DTLS connection ID" "DTLS MTU" "keying-material exporter"
  "session tickets" "session certificates (--enable-sessioncerts)" "CRL" "static RSA suites (-DWOLFSSL_STATIC_RSA)"
  "static PSK suites (-DWOLFSSL_STATIC_PSK)" "external session cache (-DHAVE_EXT_CACHE)")
if [[ $HAVE_AESNI == 1 ]]; then
  REQUIRED_DEFINES+=(WOLFSSL_AESNI USE_INTEL_SPEEDUP WOLFSSL_SP_X86_64_ASM)
  FEATURE_NAMES+=("AES-NI" "Intel assembly" "SP math x86-64 assembly")
fi

log() { echo "wolfssl: $*"; }
die() { echo "wolfssl: ERROR: $*" >&2; exit 1; }

version_ge() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]; }

# check_prefix DIR: version and features of an installed wolfSSL.
check_prefix() {
  local p=$1 ver opts missing=() i
  [[ -f "$p/include/wolfssl/version.h" ]] || die "$p has no include/wolfssl/version.h: not a wolfSSL install prefix"
  ver=$(sed -n 's/^#define LIBWOLFSSL_VERSION_STRING "\(.*\)"/\1/p' "$p/include/wolfssl/version.h")
  [[ -n "$ver" ]] || die "cannot read the version from $p/include/wolfssl/version.h"
  version_ge "$ver" "$MIN_VERSION" || die "wolfSSL $ver at $p is older than $MIN_VERSION"
  opts="$p/include/wolfssl/options.h"
  [[ -f "$opts" ]] || die "$p has no include/wolfssl/options.h (was it installed with 'make install'?)"
  for i in "${!REQUIRED_DEFINES[@]}"; do
    grep -qE "^#define ${REQUIRED_DEFINES[$i]}( |$)" "$opts" || missing+=("${FEATURE_NAMES[$i]} (${REQUIRED_DEFINES[$i]})")
  done
  if grep -qE '^#define NO_PSK( |$)' "$opts"; then missing+=("PSK (NO_PSK is defined)"); fi
  if [[ ! -f "$p/lib/libwolfssl.a" && ! -f "$p/lib/libwolfssl.so" ]]; then missing+=("lib/libwolfssl.a or lib/libwolfssl.so"); fi
  if ((${#missing[@]} > 0)); then
    printf 'wolfssl: ERROR: wolfSSL %s at %s lacks:\n' "$ver" "$p" >&2
    printf '  - %s\n' "${missing[@]}" >&2
    die "rebuild it with the flags in native/scripts/wolfssl.sh, or unset WOLFSSL_PREFIX to let npm install build one"
  fi
  echo "$ver"
}

link_prefix() {
  local prefix=$1 info=$2
  mkdir -p "$LINK_DIR"
  ln -sfn "$prefix" "$LINK_DIR/prefix"
  cp "$info" "$LINK_DIR/build-info.json"
  log "using wolfSSL at $prefix"
}

json_array() {
  local first=1 a
  printf '['
  for a in "$@"; do
    [[ $first == 1 ]] || printf ', '
    first=0
    printf '"%s"' "${a//\"/\\\"}"
  done
  printf ']'
}

# --- 1. an installed wolfSSL --------------------------------------------------
if [[ -n "${WOLFSSL_PREFIX:-}" ]]; then
  prefix=$(cd "$WOLFSSL_PREFIX" 2>/dev/null && pwd) || die "WOLFSSL_PREFIX=$WOLFSSL_PREFIX does not exist"
  ver=$(check_prefix "$prefix")
  mkdir -p "$CACHE"
  info="$CACHE/prefix-build-info.json"
  printf '{"version": "%s", "source": "prefix", "path": "%s", "checked": %s}\n' "$ver" "$prefix" "$(json_array "${REQUIRED_DEFINES[@]}")" > "$info"
  link_prefix "$prefix" "$info"
  exit 0
fi

FLAGS_HASH=$(printf '%s\n' "${CONFIGURE_FLAGS[@]}" "$EXTRA_CFLAGS" | sha256sum | cut -c1-12)

# build_from TARBALL VERSION SOURCE_KIND
build_from() {
  local tarball=$1 ver=$2 kind=$3 dir src start
  dir="$CACHE/$ver-$FLAGS_HASH"
  if [[ -f "$dir/build-info.json" && -f "$dir/prefix/lib/libwolfssl.a" ]]; then
    log "cached build $dir (wolfSSL $ver, flags $FLAGS_HASH)"
    check_prefix "$dir/prefix" > /dev/null
    link_prefix "$dir/prefix" "$dir/build-info.json"
    return 0
  fi
  rm -rf "$dir"
  mkdir -p "$dir/src"
  tar -xf "$tarball" -C "$dir/src" --strip-components=1 || { rm -rf "$dir"; die "cannot unpack $tarball"; }
  grep -q "AC_INIT(\[wolfssl\],\[$ver\]" "$dir/src/configure.ac" ||
    die "$tarball does not contain wolfSSL $ver (configure.ac says: $(grep -m1 AC_INIT "$dir/src/configure.ac"))"
  log "building wolfSSL $ver from $kind ($tarball) into $dir (log: $dir/build.log)"
  start=$(date +%s)
  if ! (cd "$dir/src" && ./autogen.sh && ./configure --prefix="$dir/prefix" "${CONFIGURE_FLAGS[@]}" CFLAGS="$EXTRA_CFLAGS" &&
    make -j"$(nproc)" && make install) > "$dir/build.log" 2>&1; then
    tail -n 40 "$dir/build.log" >&2
    die "wolfSSL build failed; full log in $dir/build.log"
  fi
  rm -rf "$dir/src"
  check_prefix "$dir/prefix" > /dev/null
  cat > "$dir/build-info.json" <<JSON
{
  "version": "$ver",
  "source": "$kind",
  "tarball": "$tarball",
  "tarball_sha256": "$(sha256sum "$tarball" | cut -d' ' -f1)",
  "configure_flags": $(json_array "${CONFIGURE_FLAGS[@]}"),
  "cflags": "$EXTRA_CFLAGS",
  "built": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "build_seconds": $(($(date +%s) - start))
}
JSON
  link_prefix "$dir/prefix" "$dir/build-info.json"
}

tarball_version() {
  basename "$1" | sed -n 's/^wolfssl[_-]\([0-9][0-9.]*[0-9]\).*$/\1/p'
}

# --- 2. a tarball the user supplies ----------------------------------------
if [[ -n "${WOLFSSL_TARBALL:-}" ]]; then
  [[ -f "$WOLFSSL_TARBALL" ]] || die "WOLFSSL_TARBALL=$WOLFSSL_TARBALL does not exist"
  tarball=$(cd "$(dirname "$WOLFSSL_TARBALL")" && pwd)/$(basename "$WOLFSSL_TARBALL")
  ver=$(tarball_version "$tarball")
  [[ -n "$ver" ]] || ver=$(tar -xOf "$tarball" --wildcards '*/configure.ac' | sed -n 's/^AC_INIT(\[wolfssl\],\[\([0-9.]*\)\].*/\1/p' | head -n1)
  [[ -n "$ver" ]] || die "cannot tell the wolfSSL version of $tarball"
  version_ge "$ver" "$MIN_VERSION" || die "$tarball holds wolfSSL $ver, older than $MIN_VERSION"
  build_from "$tarball" "$ver" "tarball"
  exit 0
fi

# --- 3. Debian's source package ----------------------------------------------
# The archive address is the one this machine's apt already uses for Debian
# (its main suite), so mirrors and proxies are respected.
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
archive_uri() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk -v cn="$codename" 'BEGIN{RS=""; FS="\n"} {
        uri=""; suites=""; types="";
        for (i=1;i<=NF;i++) {
          if ($i ~ /^URIs:/) { uri=$i; sub(/^URIs:[ \t]*/, "", uri); split(uri, u, /[ \t]+/); uri=u[1] }
          if ($i ~ /^Suites:/) suites=" " substr($i, 8) " "
          if ($i ~ /^Types:/) types=$i
        }
        if (types ~ /deb/ && suites ~ (" " cn " ") && uri != "") { print uri; exit }
      }' "$f"
  done
  [[ -f /etc/apt/sources.list ]] && awk -v cn="$codename" '$1=="deb" && $3==cn {print $2; exit}' /etc/apt/sources.list
  return 0
}
uri=$(archive_uri | head -n1)
[[ -n "$uri" ]] || die "no Debian archive found in /etc/apt sources for '$codename'; set WOLFSSL_TARBALL or WOLFSSL_PREFIX"
command -v apt-get >/dev/null || die "apt-get not found; set WOLFSSL_TARBALL or WOLFSSL_PREFIX"

apt_dir="$CACHE/apt-$SUITE"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/parts" "$apt_dir/archives/partial" "$CACHE/tarballs"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
signed=""
[[ -f $keyring ]] && signed=" [signed-by=$keyring]"
echo "deb-src$signed $uri $SUITE main" > "$apt_dir/sources.list"
APT_OPTS=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/parts"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache::Archives=$apt_dir/archives" -o "APT::Get::List-Cleanup=0")
log "reading the wolfssl source package index of Debian $SUITE"
if ! apt-get "${APT_OPTS[@]}" -qq update < /dev/null; then
  die "could not read Debian's $SUITE source index; set WOLFSSL_TARBALL to a wolfSSL >= $MIN_VERSION source tarball"
fi
deb_version=$(apt-cache "${APT_OPTS[@]}" showsrc wolfssl 2>/dev/null | awk '/^Version:/{print $2}' | sort -V | tail -n1)
[[ -n "$deb_version" ]] || die "Debian $SUITE has no wolfssl source package"
upstream=${deb_version#*:}
upstream=${upstream%%-*}
upstream=${upstream%%+*}
version_ge "$upstream" "$MIN_VERSION" || die "Debian $SUITE carries wolfssl $deb_version, older than $MIN_VERSION; set WOLFSSL_DEBIAN_SUITE or WOLFSSL_TARBALL"

if [[ -f "$CACHE/$upstream-$FLAGS_HASH/build-info.json" ]]; then
  build_from "/dev/null" "$upstream" "debian"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log "downloading wolfssl $deb_version source from Debian $SUITE"
# The index can be newer than the pool: the .dsc may fail while the
# .orig.tar.gz arrived, so the tarball decides, not the exit code.
(cd "$work" && apt-get "${APT_OPTS[@]}" -qq source --download-only "wolfssl/$SUITE" < /dev/null) || true
tarball=$(ls "$work"/wolfssl_*.orig.tar.{gz,xz,bz2} 2>/dev/null | sort -V | tail -n1 || true)
[[ -n "$tarball" ]] || die "could not download the wolfssl source tarball from Debian $SUITE; set WOLFSSL_TARBALL"
ver=$(tarball_version "$tarball")
version_ge "$ver" "$MIN_VERSION" || die "downloaded wolfssl $ver is older than $MIN_VERSION"
cp "$tarball" "$CACHE/tarballs/"
build_from "$CACHE/tarballs/$(basename "$tarball")" "$ver" "debian:$SUITE"
