#!/usr/bin/env bash
# Set up everything lhg_ros needs on a fresh Debian/Ubuntu machine without a ROS distribution:
# the Debian packages (speech and video tools, PortAudio headers) and a virtual environment with
# lhg_ros and its extras. Safe to run again: it only does what is still missing.
#
#   scripts/bootstrap.sh            # runtime + microphone + development extras
#   VENV=/path/to/venv scripts/bootstrap.sh
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
EXTRAS=${EXTRAS:-ros,ml,microphone,dev}
DEBIAN_PACKAGES=(espeak-ng sox ffmpeg portaudio19-dev libportaudio2)

log() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*" >&2; }

missing_debian=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
    || missing_debian+=("$pkg")
done
if [ ${#missing_debian[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo -n);
  else
    log "missing Debian packages: ${missing_debian[*]}; install them as root:"
    log "  apt-get install -y ${missing_debian[*]}"
    exit 1
  fi
  log "installing Debian packages: ${missing_debian[*]}"
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing_debian[@]}" >/dev/null
fi

# Python 3.11 first: the version the ros-* wheels and mediapipe 0.10.21 are tested with here.
if [ ! -x "$VENV/bin/python" ]; then
  PYTHON=${PYTHON:-}
  if [ -z "$PYTHON" ]; then
    for candidate in python3.11 python3.12 python3.10 python3; do
      command -v "$candidate" >/dev/null && { PYTHON=$candidate; break; }
    done
  fi
  log "creating virtual environment $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
fi

# Reinstall only when the package's dependency declarations change.
stamp="$VENV/.lhg_ros-installed"
want="$EXTRAS $(cat setup.py requirements*.txt package.xml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing lhg_ros[$EXTRAS] into $VENV (a few minutes the first time)"
  # (The grep drops pip's notes about local index folders that some machines configure.)
  "$VENV/bin/python" -m pip install -q --progress-bar off -e ".[$EXTRAS]" \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
  echo "$want" > "$stamp"
fi
log "ready: $VENV"
