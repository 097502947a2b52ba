#!/usr/bin/env bash
# Message catalogs of coopledger: Chinese (zh_Hans_CN, the default language) and English (en).
#
#   scripts/i18n.sh extract      pybabel extract -> payouts/translations/messages.pot, then update both
#                                catalogs (translations kept, no fuzzy matching, obsolete ids dropped);
#                                the English catalog is filled with msgstr = msgid (it is generated)
#   scripts/i18n.sh compile      .po -> .mo (the .mo files are not committed; `make` builds them)
#   scripts/i18n.sh check        fails, naming each id, if the code has a message the catalogs lack,
#                                a Chinese entry is untranslated or fuzzy, an English entry is empty,
#                                or a translation's placeholders differ from its msgid's
#   scripts/i18n.sh pot FILE     extract only, into FILE (used by tests/test_i18n.py)
#
# Adding a string: mark it (_() / _l() in the web layer, N_() for module-level labels, {{ _("…") }} in
# templates), run `scripts/i18n.sh extract`, fill its msgstr in
# payouts/translations/zh_Hans_CN/LC_MESSAGES/messages.po, then `scripts/i18n.sh check`.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${VENV_BIN:-.venv/bin}"
PYBABEL="${PYBABEL:-$BIN/pybabel}"
PYTHON="${PYTHON:-$BIN/python}"
[ -x "$PYBABEL" ] || PYBABEL="$(command -v pybabel)"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"

DIR=payouts/translations
POT="$DIR/messages.pot"
LOCALES=(zh_Hans_CN en)
KEYWORDS=(-k _ -k gettext -k ngettext:1,2 -k lazy_gettext -k _l -k N_)

extract_to() {   # extract_to FILE
    "$PYBABEL" -q extract -F babel.cfg "${KEYWORDS[@]}" --add-comments=Translators: --add-location=file \
        --project=coopledger --version=0.1.0 --copyright-holder="coopledger" -o "$1" .
}

# Python helpers, run with the venv's Babel: `fill-en PO` and `check POT`.
helper() {
    "$PYTHON" - "$@" <<'PY'
import re
import sys

from babel.messages.pofile import read_po, write_po

TOKEN = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[a-zA-Z%]|\{[^{}]*\}")


def tokens(text):
    return sorted(TOKEN.findall(text)), text.count("%")


def load(path):
    with open(path, "rb") as fh:
        return read_po(fh)


def ids(message):
    return message.id if isinstance(message.id, tuple) else (message.id,)


def strings(message):
    return message.string if isinstance(message.string, tuple) else (message.string,)


def fill_en(path):
    catalog = load(path)
    catalog.fuzzy = False
    for message in catalog:
        if not message.id:
            continue
        message.flags.discard("fuzzy")
        if not all(strings(message)):
            message.string = tuple(message.id) if isinstance(message.id, tuple) else message.id
    with open(path, "wb") as fh:
        write_po(fh, catalog, ignore_obsolete=True, include_previous=False)


def short(message_id):
    text = message_id[0] if isinstance(message_id, tuple) else message_id
    return text if len(text) <= 90 else text[:87] + "..."


def check(pot_path, zh_path, en_path):
    pot, zh, en = load(pot_path), load(zh_path), load(en_path)
    problems = []
    for name, catalog in (("zh_Hans_CN", zh), ("en", en)):
        missing = [m.id for m in pot if m.id and catalog.get(m.id, m.context) is None]
        problems += [f"{name}: not in the catalog (run scripts/i18n.sh extract): {short(i)!r}" for i in missing]
        for message in catalog:
            if not message.id:
                continue
            if message.fuzzy:
                problems.append(f"{name}: fuzzy: {short(message.id)!r}")
            if not all(strings(message)):
                problems.append(f"{name}: untranslated: {short(message.id)!r}")
                continue
            wanted = [tokens(i) for i in ids(message)]
            for text in strings(message):
                if tokens(text) not in wanted:
                    problems.append(f"{name}: placeholders differ from the msgid's: {short(message.id)!r} "
                                    f"-> {text!r}")
    if zh.fuzzy:
        problems.append("zh_Hans_CN: the catalog header is marked fuzzy")
    for problem in problems:
        print(problem, file=sys.stderr)
    translated = sum(1 for m in zh if m.id)
    if problems:
        print(f"i18n check: {len(problems)} problem(s)", file=sys.stderr)
        sys.exit(1)
    print(f"i18n check: {translated} messages, zh_Hans_CN and en complete")


command, *args = sys.argv[1:]
{"fill-en": lambda: fill_en(*args), "check": lambda: check(*args)}[command]()
PY
}

cmd="${1:-}"
case "$cmd" in
    extract)
        extract_to "$POT"
        for locale in "${LOCALES[@]}"; do
            po="$DIR/$locale/LC_MESSAGES/messages.po"
            if [ -f "$po" ]; then
                "$PYBABEL" -q update -i "$POT" -d "$DIR" -l "$locale" --no-fuzzy-matching --ignore-obsolete
            else
                "$PYBABEL" -q init -i "$POT" -d "$DIR" -l "$locale"
            fi
        done
        helper fill-en "$DIR/en/LC_MESSAGES/messages.po"
        echo "extracted $(grep -c '^msgid "' "$POT" | awk '{print $1 - 1}') messages into $POT; catalogs updated"
        ;;
    compile)
        "$PYBABEL" -q compile -d "$DIR"
        ;;
    check)
        tmp="$(mktemp -d)"
        trap 'rm -rf "$tmp"' EXIT
        extract_to "$tmp/messages.pot"
        helper check "$tmp/messages.pot" "$DIR/zh_Hans_CN/LC_MESSAGES/messages.po" "$DIR/en/LC_MESSAGES/messages.po"
        ;;
    pot)
        [ -n "${2:-}" ] || { echo "usage: $0 pot FILE" >&2; exit 2; }
        extract_to "$2"
        ;;
    *)
        echo "usage: $0 extract|compile|check|pot FILE" >&2
        exit 2
        ;;
esac
