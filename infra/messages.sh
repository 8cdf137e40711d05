#!/usr/bin/env bash
# Extract the interface strings into frontend/locale/zh_Hans/LC_MESSAGES/django.po and compile the catalogue.
# Translate new entries in the .po, then run this again to rebuild the committed .mo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
# A developer's tool: DEBUG, so no production SECRET_KEY is needed to load the settings.
export DEBUG="${DEBUG:-true}"
LOCALE=zh_Hans

mkdir -p frontend/locale
"$PYTHON" manage.py makemessages -l "$LOCALE" \
    --ignore='.venv*' --ignore=var --ignore=tests --ignore=bench --ignore=node_modules
"$PYTHON" manage.py compilemessages -l "$LOCALE" --ignore='.venv*' --ignore=var
