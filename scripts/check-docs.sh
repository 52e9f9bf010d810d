#!/usr/bin/env bash
# Checks the documentation without network or cargo; exits 1 and names file:line for each problem:
#   (a) README.md is longer than README_MAX lines (it is for users; everything else lives in docs/);
#   (b) a relative link in README.md, docs/*.md or paper/*.md points to no existing file or folder
#       (links inside code spans and fenced code blocks are not links; anchors after '#' are not checked);
#   (c) a line of the docs, paper text, code, tests or scripts narrates how the work was organised
#       (sittings, working days, the state of a machine, issue numbers of a tracker outside the
#       repository) instead of speaking of the project.
# Usage: scripts/check-docs.sh   (from anywhere in the repository)
set -euo pipefail
cd "$(dirname "$0")/.."

README_MAX=250

# Files not yet held to (c). Temporary: remove an entry once its file has been cleared.
NARRATION_EXCLUDE=(
)

# Where (c) looks. paper/results/ (data and generated reports) is never searched.
NARRATION_SCOPE=(README.md docs paper src tests scripts benches .ci .cargo Cargo.toml)

# (c) patterns, extended regular expressions matched case-insensitively. This file spells them out, so
# (c) skips it; a bracketed letter keeps a pattern from matching its own line in other searches.
NARRATION=(
  '\bsess[i]ons?\b'                                  # how many sittings the work took
  '\bsittings?\b'
  '\bworking[ -]days?\b'
  '\biss[u]e #?[0-9]'                                # a tracker's numbers: the tracker is not in the repository
  "\\bthe issue's\\b"                               # "the issue's targets"
  '\b(idle|shared|busy|loaded) machine\b'           # "on the shared machine"
  '\bmachine (was|is|were) (idle|shared|busy|loaded|paused)\b'
  '\b(project|build) machine\b'                     # "the project machine": say its kind instead
  '\b(tried|measured|rehearsed|completed|ran) here\b'
  '\bpaused for [0-9]'                                # "paused for 70 minutes"
  '\bnext person\b'
  '\b(lent|available) to this (task|project)\b'
)
# Lines that match a pattern above but cite a dependency's own tracker (a fact about the dependency).
NARRATION_ALLOW='candle issues? #'

fail=0
say() { printf '%s\n' "$*"; fail=1; }

files_in() {  # tracked and untracked-but-not-ignored files under the given paths
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files --cached --others --exclude-standard -- "$@" | sort -u
  else
    find "$@" -type f 2>/dev/null | grep -v '/target/' | sort
  fi
}

# (a) README length.
lines=$(wc -l <README.md)
if [ "$lines" -gt "$README_MAX" ]; then
  say "README.md:$((README_MAX + 1)): README.md has $lines lines (at most $README_MAX); move detail to docs/"
fi

# (b) Relative links. Prints "line<TAB>target" for every [text](target) and ![alt](target) outside code.
links() {
  awk '
    /^[ \t]*(```|~~~)/ { fence = !fence; next }
    fence { next }
    {
      line = $0
      gsub(/`[^`]*`/, "", line)
      while (match(line, /\]\([^) \t]+/)) {
        t = substr(line, RSTART + 2, RLENGTH - 2)
        print NR "\t" t
        line = substr(line, RSTART + RLENGTH)
      }
    }' "$1"
}
while IFS= read -r f; do
  [ -f "$f" ] || continue
  dir=$(dirname "$f")
  while IFS=$'\t' read -r n target; do
    case "$target" in
      http://* | https://* | mailto:* | '#'*) continue ;;
    esac
    path=${target%%#*}
    [ -n "$path" ] || continue
    [ -e "$dir/$path" ] || say "$f:$n: broken link: $target"
  done < <(links "$f")
done < <(files_in README.md docs paper | grep -E '^(README\.md|docs/.*\.md|paper/[^/]*\.md)$')

# (c) Narration.
excluded() {
  local e
  for e in "${NARRATION_EXCLUDE[@]}"; do [ "$1" = "$e" ] && return 0; done
  return 1
}
pattern=$(IFS='|'; printf '%s' "${NARRATION[*]}")
while IFS= read -r f; do
  [ -f "$f" ] || continue
  case "$f" in paper/results/*) continue ;; esac
  excluded "$f" && continue
  [ "$f" = scripts/check-docs.sh ] && continue
  while IFS= read -r hit; do
    say "$f:${hit%%:*}: narration: ${hit#*:}"
  done < <(grep -nEiI -- "$pattern" "$f" | grep -Eiv -- "$NARRATION_ALLOW" || true)
done < <(files_in "${NARRATION_SCOPE[@]}")

if [ "$fail" = 0 ]; then
  echo "check-docs: OK (README $lines lines; links resolve; no narration)"
fi
exit "$fail"
