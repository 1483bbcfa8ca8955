#!/usr/bin/env bash
# The abi3 wheel, built once, installed and tested on every other CPython 3.9+
# this machine has (`python3.X` on PATH, or pyenv's versions): the glue reads
# some CPython objects directly where a check at import finds the layout it
# expects, and the layouts differ between versions. Prints what it skipped.
#
#   bash python/tests/other_pythons.sh <the main venv's python>
set -euo pipefail
cd "$(dirname "$0")/../.."
main_python=${1:-.venv/bin/python}
main_version=$("$main_python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
out=target/other-pythons
rm -rf "$out/wheel"
mkdir -p "$out/wheel"

# One interpreter per minor version, pyenv's first, then PATH's; each must
# run (a pyenv shim on PATH may not).
declare -A found=()
for minor in 9 10 11 12 13 14; do
  v=3.$minor
  [[ $v == "$main_version" ]] && continue
  for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/$v.*/bin/python$v "$(command -v "python$v" || true)"; do
    if [[ -z ${found[$v]:-} && -x $p ]] && "$p" -c 'import venv' >/dev/null 2>&1; then
      found[$v]=$p
    fi
  done
done
if [[ ${#found[@]} -eq 0 ]]; then
  echo "other CPython versions: none found besides $main_version; skipped"
  exit 0
fi

# The workspace's target directory keeps the build incremental.
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target} \
  "$main_python" -m pip wheel --quiet --no-deps -w "$out/wheel" ./python
wheel=$(ls "$out"/wheel/phoenix_wire-*.whl)
for v in $(printf '%s\n' "${!found[@]}" | sort -V); do
  echo "== CPython $v (${found[$v]}), $(basename "$wheel")"
  venv=$out/venv-$v
  [[ -x $venv/bin/python ]] || "${found[$v]}" -m venv "$venv"
  # The wheel's dependencies and the suite's, then this very build of it.
  "$venv/bin/pip" install --quiet "$wheel" pytest orjson erlang-py erlpack
  "$venv/bin/pip" install --quiet --force-reinstall --no-deps "$wheel"
  # From outside the source tree, so that the installed wheel is imported.
  (cd "$out" && "$OLDPWD/$venv/bin/python" -m pytest -q -p no:cacheprovider "$OLDPWD/python/tests")
done
