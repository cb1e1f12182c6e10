#!/usr/bin/env bash
# Catalogues (docs/i18n.md): extract every marked string into messages.pot,
# merge it into each language's messages.po, and compile the .mo files.
#   bash scripts/i18n.sh            extract + update + compile
#   bash scripts/i18n.sh compile    compile only (the app also does this at start)
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=".venv/bin/pybabel"
[ -x "$PYBABEL" ] || PYBABEL=pybabel
DIR=campaign/translations
LANGS="ja zh ru pl"
mkdir -p "$DIR"
if [ "${1:-}" != "compile" ]; then
  "$PYBABEL" -q extract -F babel.cfg -k lazy_gettext -k _l -k N_ \
    --project=Winback --copyright-holder="Winback contributors" --msgid-bugs-address="" \
    --add-comments=Translators: --sort-by-file -o "$DIR/messages.pot" .
  for lang in $LANGS; do
    if [ -f "$DIR/$lang/LC_MESSAGES/messages.po" ]; then
      "$PYBABEL" -q update -i "$DIR/messages.pot" -d "$DIR" -l "$lang" --no-fuzzy-matching
    else
      "$PYBABEL" -q init -i "$DIR/messages.pot" -d "$DIR" -l "$lang"
    fi
  done
fi
"$PYBABEL" -q compile -d "$DIR" --statistics
