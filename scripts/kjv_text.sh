#!/usr/bin/env bash
# Writes public-domain evaluation text (King James Bible, Debian packages
# bible-kjv + bible-kjv-text) to ${F8_CACHE:-~/.cache/f8}/kjv/<name>.txt and
# prints the path. Verse labels ("Ge1:1 ") are stripped; one verse per line.
#   scripts/kjv_text.sh [SPEC] [NAME]     default: "Genesis 1:1-11:32" genesis
set -euo pipefail
SPEC=${1:-"Genesis 1:1-11:32"}
NAME=${2:-genesis}
OUT_DIR=${F8_CACHE:-$HOME/.cache/f8}/kjv
OUT=$OUT_DIR/$NAME.txt
if ! command -v bible >/dev/null; then
  echo "kjv_text: the 'bible' program is missing (apt-get install bible-kjv)" >&2
  exit 1
fi
mkdir -p "$OUT_DIR"
if [ ! -s "$OUT" ]; then
  bible -f "$SPEC" | sed -E 's/^[0-9A-Za-z]+[0-9]+:[0-9]+ //' | grep -v '^$' > "$OUT.tmp"
  mv "$OUT.tmp" "$OUT"
fi
echo "$OUT"
