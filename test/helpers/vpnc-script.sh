#!/bin/sh
# vpnc-script for the e2e harness (openconnect --script). Runs inside the
# client's network namespace: configures the TUN openconnect made from what the
# gateway sent, and appends one JSON line per call to $WG_VPNC_STATE so tests
# can assert on exactly what the gateway pushed (addresses, MTU, DNS, domain,
# split routes). Never touches /etc/resolv.conf or anything outside the
# namespace.
#
# Env from the harness:
#   WG_VPNC_STATE   JSON-lines file to append to (required to record anything)
#   WG_ROUTE_METRIC metric of the routes added here; distinct per client so
#                   several clients can share one namespace (ping -I tunX
#                   then picks the route through its own TUN)
#
# Recorded extras: WG_SCRIPT_ERRORS (ip commands that failed, "" when none),
# WG_SCRIPT_ROUTES (routes added, ";"-separated), WG_SCRIPT_TIME.
# Values are byte-exact except control characters other than \n \r \t,
# which become spaces (awk runs in the C locale: bytes, not characters).

metric="${WG_ROUTE_METRIC:-100}"
errors=""
routes=""

run() {
	if ! out=$("$@" 2>&1); then
		errors="${errors}${errors:+; }$*: ${out}"
	fi
}

route4() {
	run ip -4 route replace "$1" dev "$TUNDEV" metric "$metric"
	routes="${routes}${routes:+;}$1"
}

route6() {
	run ip -6 route replace "$1" dev "$TUNDEV" metric "$metric"
	routes="${routes}${routes:+;}$1"
}

do_connect() {
	if [ -n "${INTERNAL_IP4_MTU:-}" ]; then
		run ip link set dev "$TUNDEV" mtu "$INTERNAL_IP4_MTU"
	fi
	run ip link set dev "$TUNDEV" up
	if [ -n "${INTERNAL_IP4_ADDRESS:-}" ]; then
		run ip -4 addr add "$INTERNAL_IP4_ADDRESS/32" dev "$TUNDEV"
		# The pool itself (other clients, the gateway's end) goes through the tunnel too.
		if [ -n "${INTERNAL_IP4_NETADDR:-}" ] && [ -n "${INTERNAL_IP4_NETMASKLEN:-}" ]; then
			route4 "$INTERNAL_IP4_NETADDR/$INTERNAL_IP4_NETMASKLEN"
		fi
	fi
	if [ -n "${INTERNAL_IP6_NETMASK:-}" ]; then
		# openconnect passes "address/prefix" here.
		run ip -6 addr add "$INTERNAL_IP6_NETMASK" dev "$TUNDEV" nodad
	elif [ -n "${INTERNAL_IP6_ADDRESS:-}" ]; then
		run ip -6 addr add "$INTERNAL_IP6_ADDRESS/128" dev "$TUNDEV" nodad
	fi

	n4="${CISCO_SPLIT_INC:-0}"
	i=0
	while [ "$i" -lt "$n4" ]; do
		eval "addr=\${CISCO_SPLIT_INC_${i}_ADDR:-}"
		eval "len=\${CISCO_SPLIT_INC_${i}_MASKLEN:-}"
		[ -n "$addr" ] && [ -n "$len" ] && route4 "$addr/$len"
		i=$((i + 1))
	done
	n6="${CISCO_IPV6_SPLIT_INC:-0}"
	i=0
	while [ "$i" -lt "$n6" ]; do
		eval "addr=\${CISCO_IPV6_SPLIT_INC_${i}_ADDR:-}"
		eval "len=\${CISCO_IPV6_SPLIT_INC_${i}_MASKLEN:-}"
		[ -n "$addr" ] && [ -n "$len" ] && route6 "$addr/$len"
		i=$((i + 1))
	done
	# No split-include means "tunnel everything" for that family.
	if [ "$n4" -eq 0 ] && [ -n "${INTERNAL_IP4_ADDRESS:-}" ]; then
		route4 0.0.0.0/0
	fi
	if [ "$n6" -eq 0 ] && [ -n "${INTERNAL_IP6_ADDRESS:-}${INTERNAL_IP6_NETMASK:-}" ]; then
		route6 ::/0
	fi
}

case "${reason:-}" in
connect) do_connect ;;
# pre-init: nothing to prepare; disconnect: openconnect deletes the TUN and
# with it every address and route above; reconnect/attempt-reconnect: the TUN
# and its configuration survive.
esac

if [ -n "${WG_VPNC_STATE:-}" ]; then
	WG_SCRIPT_ERRORS="$errors" WG_SCRIPT_ROUTES="$routes" WG_SCRIPT_TIME="$(date +%s.%N)" LC_ALL=C awk '
	# Char by char: backslashes in gsub replacements differ between awks.
	function esc(v,    out, i, n, c) {
		out = ""
		n = length(v)
		for (i = 1; i <= n; i++) {
			c = substr(v, i, 1)
			if (c == "\\") out = out "\\\\"
			else if (c == "\"") out = out "\\\""
			else if (c == "\n") out = out "\\n"
			else if (c == "\r") out = out "\\r"
			else if (c == "\t") out = out "\\t"
			else if (c < " " || c == "\177") out = out " "
			else out = out c
		}
		return out
	}
	BEGIN {
		line = ""
		for (k in ENVIRON) {
			if (k !~ /^(reason|TUNDEV|VPNGATEWAY|VPNPID|LOG_LEVEL|IDLE_TIMEOUT|INTERNAL_IP[46]_[A-Z0-9_]+|CISCO_[A-Z0-9_]+|WG_SCRIPT_[A-Z]+)$/) continue
			line = line (line == "" ? "" : ",") "\"" k "\":\"" esc(ENVIRON[k]) "\""
		}
		print "{" line "}"
	}' >>"$WG_VPNC_STATE"
fi
exit 0
