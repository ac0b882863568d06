#!/usr/bin/env bash
# Install what livetap needs on Debian (tshark, tcpdump, chromium, libpcap, Python venv)
# and the package itself, with its development tools, into ./.venv.
# Run as root on a fresh machine; later runs only install what is missing.
set -euo pipefail
cd "$(dirname "$0")"

packages=()
command -v tshark >/dev/null || packages+=(tshark)
command -v tcpdump >/dev/null || packages+=(tcpdump)
command -v chromium >/dev/null || packages+=(chromium)
command -v tmux >/dev/null || packages+=(tmux)
command -v rsvg-convert >/dev/null || packages+=(librsvg2-bin)
command -v setpriv >/dev/null || packages+=(util-linux)
ldconfig -p 2>/dev/null | grep -q 'libpcap\.so' || packages+=(libpcap0.8)
python3 -c 'import venv, ensurepip' 2>/dev/null || packages+=(python3 python3-venv python3-pip)
# engine.native compiles the analysis hot path with mypyc: a C compiler and Python's headers
command -v gcc >/dev/null || packages+=(gcc)
python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.isfile(sysconfig.get_paths()["include"] + "/Python.h"))' 2>/dev/null \
    || packages+=(python3-dev)

if [ ${#packages[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup.sh: missing Debian packages: ${packages[*]}; run as root to install them" >&2
        exit 4
    fi
    echo "setup.sh: installing ${packages[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import engine, tui, themes, pytest, textual' 2>/dev/null \
    || [ pyproject.toml -nt .venv/.installed ]; then
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e '.[dev]'
    touch .venv/.installed
fi
# Compile the analysis modules (about a minute, only when their sources changed); without
# a compiler livetap still runs, as pure Python.
.venv/bin/python -m engine.native build || true
echo "setup.sh: ready; start livetap with: sudo .venv/bin/livetap" >&2
