#!/usr/bin/env bash
# The .deb installs and runs: builds it with CPack from BUILD, unpacks it into a clean
# directory tree, and checks that its Depends name the package of every shared library the
# installed binary loads (so a fresh Debian machine installing only those can run it), that
# `pgblit --version` answers, that the man page renders with the flags of `pgblit copy
# --help`, and that the installed binary copies a table between the test clusters.
#   tests/package_test.sh BUILD VERSION SOURCE_PORT TARGET_PORT
set -euo pipefail
build=$1 version=$2 source_port=$3 target_port=$4
work=$(mktemp -d /tmp/pgblit-package-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$work/package" >"$work/cpack.log") || { cat "$work/cpack.log"; fail "cpack"; }
deb=$(ls "$work"/package/pgblit_"$version"_*.deb) || fail "no pgblit_${version}_*.deb was made"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
dpkg -x "$deb" "$work/root"
bin=$work/root/usr/bin/pgblit

[ "$("$bin" --version)" = "pgblit $version" ] || fail "pgblit --version says '$("$bin" --version)'"

# Every library the binary links (its NEEDED entries; theirs come with their own packages)
# belongs to a package the .deb depends on.
declared=" $(echo "$depends" | tr ',|' '\n\n' | sed -e 's/(.*)//' -e 's/ //g' | tr '\n' ' ') "
for needed in $(objdump -p "$bin" | awk '$1 == "NEEDED" {print $2}'); do
  lib=$(ldd "$bin" | awk -v n="$needed" '$1 == n {print $3}')
  [ -n "$lib" ] || fail "$needed is not found on this machine"
  owner=$(dpkg -S "$(realpath "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null) \
    || fail "no package owns $lib"
  package=${owner%%:*}
  # The package itself, or a name it provides (libspdlog1.10 provides libspdlog1.10-fmt9).
  names="$package $(dpkg-query -W -f='${Provides}' "$package" | tr ',' '\n' | sed -e 's/(.*)//' -e 's/ //g' | tr '\n' ' ')"
  found=
  for name in $names; do [[ $declared == *" $name "* ]] && found=1; done
  [ -n "$found" ] || fail "$lib comes from $package, which the .deb does not depend on ($depends)"
done
[[ $declared == *" postgresql-client "* ]] || fail "postgresql-client (pg_dump, pg_restore) missing from Depends"

# The man page and the docs are installed, and the page carries copy's flags.
page=$work/root/usr/share/man/man1/pgblit.1.gz
[ -f "$page" ] || fail "no man page at /usr/share/man/man1/pgblit.1.gz"
MANWIDTH=100 man -l "$page" 2>/dev/null | col -b >"$work/man.txt"
for flag in --max-rejects --on-existing --create-schema --spool-level; do
  grep -q -- "$flag" "$work/man.txt" || fail "the man page does not mention $flag"
done
[ -f "$work/root/usr/share/doc/pgblit/flags.md" ] || fail "docs/flags.md is not installed"
[ -f "$work/root/usr/share/doc/pgblit/README.md" ] || fail "README.md is not installed"

# A real copy with the installed binary.
db=pgblit_package_test
psql_on() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -p "$1" -d "${2:-postgres}" "${@:3}"; }
for port in "$source_port" "$target_port"; do
  psql_on "$port" postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  psql_on "$port" "$db" -c "CREATE TABLE parcels (id bigint PRIMARY KEY, label text NOT NULL)"
done
psql_on "$source_port" "$db" -c "INSERT INTO parcels SELECT g, 'parcel ' || g FROM generate_series(1, 20000) g"
(cd "$work" && "$bin" copy --source "postgresql://postgres@127.0.0.1:$source_port/$db" \
   --target "postgresql://postgres@127.0.0.1:$target_port/$db" --yes --progress off -j 2) \
  || fail "the installed pgblit copy failed"
sum() { psql_on "$1" "$db" -At -c "SELECT count(*) || ' ' || sum(id) || ' ' || md5(string_agg(label, ',' ORDER BY id)) FROM parcels"; }
[ "$(sum "$source_port")" = "$(sum "$target_port")" ] || fail "target holds '$(sum "$target_port")', source '$(sum "$source_port")'"
for port in "$source_port" "$target_port"; do psql_on "$port" postgres -c "DROP DATABASE $db"; done
echo "ok: $(basename "$deb") installs, runs, and copied $(sum "$source_port" 2>/dev/null | cut -d' ' -f1) rows"
