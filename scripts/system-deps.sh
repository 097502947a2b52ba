#!/usr/bin/env bash
# Debian packages coopledger needs beyond Python: CJK fonts — WenQuanYi Micro Hei for the PDF statements
# (TrueType: its HarfBuzz subset keeps a one-page statement near 30 KB, where Noto Sans CJK's CFF subset
# costs ~300 KB), Noto Sans CJK as the fallback for rarer characters and the web pages — DejaVu Sans Mono
# (verification codes), HarfBuzz's subsetter (without it WeasyPrint falls back to a 40x slower font
# subsetter), Pango, poppler-utils (reading PDFs back in tests) and Chromium (browser tests). Installs what
# is missing when run as root; otherwise names the packages.
set -euo pipefail

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in fonts-wqy-microhei fonts-noto-cjk fonts-dejavu-core libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0 poppler-utils chromium; do
  have_pkg "$pkg" || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "coopledger needs these Debian packages: ${need[*]}" >&2
  echo "Install them with: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
