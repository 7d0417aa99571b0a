#!/bin/sh
# embed.sh FILE SYMBOL > out.c — a file's bytes as a C string constant.
set -eu
printf '/* generated from %s by scripts/embed.sh; do not edit */\n' "$1"
printf 'const char %s[] =\n' "$2"
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t"/' -e 's/$/\\n"/' "$1"
printf ';\n'
