#!/usr/bin/env bash
# Fails when C sources call a banned function (STYLE.md "Habits"): strcpy strcat sprintf
# vsprintf gets atoi atol strtok alloca. Comments and string literals are not read, so
# prose such as "the request gets its answer" does not count. Prints file:line: call.
# Usage: scripts/check-banned.sh [DIR] (default: the repository).
set -euo pipefail
top=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$top"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  files=$(git ls-files --cached --others --exclude-standard -- '*.c' '*.h' | grep -v '^build/' || true)
else
  files=$(find . -path ./build -prune -o -type f \( -name '*.c' -o -name '*.h' \) -print)
fi
[ -n "$files" ] || { echo "check-banned: no C files"; exit 0; }
# shellcheck disable=SC2086
python3 - $files <<'PY'
import re, sys
banned = re.compile(r'\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok|alloca)\s*\(')
# Comments, string and character literals, in one pass so that each hides the others.
hide = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
def blank(m):
    return re.sub(r'[^\n]', ' ', m.group(0))
hits = 0
for path in sys.argv[1:]:
    try:
        text = open(path, encoding='utf-8', errors='replace').read()
    except OSError:
        continue
    code = hide.sub(blank, text)
    for m in banned.finditer(code):
        line = code.count('\n', 0, m.start()) + 1
        print(f"{path}:{line}: {m.group(1)}() is banned (use snprintf, fg_strlcpy, fg_parse_u64)")
        hits += 1
if hits:
    print(f"check-banned: {hits} banned call(s)")
    sys.exit(1)
print(f"check-banned: {len(sys.argv) - 1} files, no banned calls")
PY
