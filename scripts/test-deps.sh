#!/usr/bin/env bash
# The programs `make test` needs besides cargo and a running Docker Engine,
# and the Debian package that brings each. Missing ones are installed when
# we are root (apt-get), else we stop at once with the exact command to run.
#
# One list for `make test` and `.ci/run`: a tool only CI installed was a test
# that failed on a fresh machine. Add a line here when a test needs a program.
set -euo pipefail

# command  package  [why]
DEPS=(
    "unshare util-linux namespace tests"
    "nsenter util-linux namespace tests"
    "setpriv util-linux namespace tests"
    "ip iproute2 network namespace tests"
    "file file make static checks the binary"
    "gcc gcc static test apps"
    "socat socat TLS test (a TLS front for the engine socket)"
    "openssl openssl TLS test certificates"
    "dpkg-deb dpkg fixture images from Debian packages"
    "apt-get apt fixture images from Debian packages"
    "podman podman Podman test"
    "ssh openssh-client ssh engine test (the client nosh runs)"
    "ssh-keygen openssh-client ssh engine test (throwaway keys)"
    "containerd containerd containerd:// and pod:// tests (a private instance; docker-ce's containerd.io has it too)"
    "ctr containerd containerd:// and pod:// tests import fixture images and run targets"
    "xxd xxd xxd builtin compared with xxd"
    "hexdump bsdextrautils hexdump builtin compared with hexdump -C"
    "strings binutils strings builtin compared with strings"
    "strace strace trace's decoding compared with strace, and brought tools (--with strace)"
    "xmllint libxml2-utils doctor's JUnit reports checked against their schema"
    "curl curl brought tools (--with curl answers from the app)"
    "tcpdump tcpdump brought tools (a capture refused for want of CAP_NET_RAW)"
)
# Files (not commands) and their package.
FILE_DEPS=(
    "/usr/lib/x86_64-linux-gnu/libc.a libc6-dev static test apps"
    "/usr/sbin/sshd openssh-server ssh engine test (an sshd in front of the engine)"
)
# Packages installed with their recommends (podman needs its network
# backend and its init, which come that way).
WITH_RECOMMENDS=" podman "

missing=()
missing_recommends=()
add() {
    local pkg=$1
    if [[ $WITH_RECOMMENDS == *" $pkg "* ]]; then
        [[ " ${missing_recommends[*]} " == *" $pkg "* ]] || missing_recommends+=("$pkg")
    else
        [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
    fi
}
for line in "${DEPS[@]}"; do
    read -r cmd pkg _ <<< "$line"
    command -v "$cmd" > /dev/null 2>&1 || add "$pkg"
done
for line in "${FILE_DEPS[@]}"; do
    read -r path pkg _ <<< "$line"
    [[ -e $path ]] || add "$pkg"
done
# Python modules of Debian's python3 (the tests run /usr/bin/python3).
PYTHON_DEPS=(
    "jsonschema python3-jsonschema doctor's SARIF reports checked against their schema"
)
for line in "${PYTHON_DEPS[@]}"; do
    read -r module pkg _ <<< "$line"
    /usr/bin/python3 -c "import $module" > /dev/null 2>&1 || add "$pkg"
done

if ((${#missing[@]} + ${#missing_recommends[@]} == 0)); then
    exit 0
fi

all=("${missing[@]}" "${missing_recommends[@]}")
if [[ $(id -u) != 0 ]]; then
    echo "make test needs these Debian packages: ${all[*]}" >&2
    cmd="sudo apt-get update && sudo apt-get install -y"
    ((${#missing[@]})) && echo "  $cmd --no-install-recommends ${missing[*]}" >&2
    ((${#missing_recommends[@]})) && echo "  $cmd ${missing_recommends[*]}" >&2
    exit 1
fi

echo "test-deps: installing ${all[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if ((${#missing[@]})); then
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ((${#missing_recommends[@]})); then
    apt-get install -y -qq "${missing_recommends[@]}"
fi
