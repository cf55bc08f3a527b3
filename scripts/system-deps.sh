#!/usr/bin/env bash
# Make sure the Debian packages the locator needs are installed: Python's venv module,
# PostgreSQL 15 and PostGIS 3. As root, missing ones are installed with apt-get;
# otherwise the exact command is printed and the script fails.
set -euo pipefail

# pgRouting: road travel time (DESIGN §4.7), a server extension in the same cluster.
packages=(postgresql-15 postgresql-15-postgis-3 postgresql-15-pgrouting python3-venv)
# Extra packages, e.g. EXTRA_PACKAGES="chromium" for the browser tests, or the CJK font
# (fonts-wqy-microhei) that `make run` asks for, so the Chinese pages are legible.
read -r -a extra <<< "${EXTRA_PACKAGES:-}"
packages+=("${extra[@]}")

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
# A Python that is not Debian's (pyenv, for one) brings its own venv module.
if [[ " ${missing[*]} " == *" python3-venv "* ]] && python3 -c "import venv, ensurepip" 2>/dev/null; then
  missing=("${missing[@]/python3-venv}")
  read -r -a missing <<< "${missing[*]}"
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  echo "Installing system packages: ${missing[*]}"
  # Another apt run (unattended upgrades, a parallel `make`) holds the dpkg lock for a
  # while: wait for it rather than fail.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    "${missing[@]}" >/dev/null
else
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Install them with:  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
