#!/bin/sh
# Render DIR/report.html to a PNG screenshot with headless Chromium, to look at the report as a
# reader would. Not run by CI. Needs Debian's `chromium` package (apt-get install -y chromium).
#
#   scripts/render-report.sh results/care               # writes results/care/report.png
#   scripts/render-report.sh results/care out.png 6000  # another file, taller page
set -eu
dir=${1:?usage: scripts/render-report.sh DIR [OUTPUT.png] [HEIGHT]}
out=${2:-$dir/report.png}
height=${3:-16000}
html=$(cd "$dir" && pwd)/report.html
[ -f "$html" ] || { echo "error: no report.html in $dir (run: careshift run SCENARIO --out $dir)" >&2; exit 1; }
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --hide-scrollbars --user-data-dir="$profile" \
  --screenshot="$out" --window-size=1280,"$height" "file://$html" 2>/dev/null
echo "wrote $out"
