#!/usr/bin/env bash
# Installs the Debian packages that Loom's lab and tests need, if any is
# missing. Needs root. Prints what it installs; does nothing when all are
# there.
set -euo pipefail

pkgs=(openvswitch-switch iproute2 iputils-ping ethtool tcpdump podman containernetworking-plugins busybox-static runc docker.io)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing ${missing[*]}; install them as root with: apt-get update && apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q "${missing[@]}"
