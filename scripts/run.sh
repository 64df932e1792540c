#!/usr/bin/env bash
# Sets everything up and runs the appliance from this tree:
# installs missing Debian packages (as root), builds the release binary, initialises a
# data directory and starts `fedgw serve` with the console on https://127.0.0.1:8443.
# Environment: FEDGW_DATA_DIR (default /var/lib/fedgw as root, else
# ~/.local/share/fedgw), FEDGW_CONSOLE_PORT (default 8443),
# FEDGW_ADMIN_PASSWORD_FILE (optional: create admin "admin" from that file).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

scripts/deps.sh build

cmake --preset release >/dev/null
cmake --build --preset release --target fedgw -j"$(nproc)"
bin="$top/build/release/core/daemon/fedgw"

if [ "$(id -u)" -eq 0 ]; then
  data=${FEDGW_DATA_DIR:-/var/lib/fedgw}
else
  data=${FEDGW_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/fedgw}
fi
port=${FEDGW_CONSOLE_PORT:-8443}

init_args=(--data-dir "$data" init)
if [ -n "${FEDGW_ADMIN_PASSWORD_FILE:-}" ]; then
  init_args+=(--admin-password-file "$FEDGW_ADMIN_PASSWORD_FILE")
fi
"$bin" "${init_args[@]}"

cat <<MSG

fedgw is starting. Console: https://127.0.0.1:$port/
  The certificate is self-signed (fingerprint: fedgw --data-dir $data pki list);
  your browser asks you to accept it once.
  First visit: set the admin name and password on the setup page
  (or beforehand: fedgw --data-dir $data admin add admin).
  Status from a shell: $bin --data-dir $data status
Stop with Ctrl-C.

MSG
exec "$bin" --data-dir "$data" serve --console-port "$port"
