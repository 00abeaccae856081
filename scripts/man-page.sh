#!/usr/bin/env bash
# Writes the pgblit(1) man page (roff) to stdout from the flags' own help texts: the same
# definitions, in the same order, as docs/flags.md (scripts/flags-doc.sh), so the page
# cannot say something the binary does not. The build runs it (cmake/packaging.cmake).
#   scripts/man-page.sh BUILD/bin/pgblit > pgblit.1
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/flag-commands.sh"
version=$("$bin" --version | awk '{print $2}')
# roff: a backslash is \e, a hyphen \- (so options copy-paste as ASCII), and a line opening
# with . or ' would be read as a request.
roff() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
cat <<ROFF
.TH PGBLIT 1 "" "pgblit $version" "User Commands"
.SH NAME
pgblit \\- move PostgreSQL table data between servers, fast and verified
.SH SYNOPSIS
.B pgblit
.I command
[\\fIoptions\\fR]
.SH DESCRIPTION
pgblit moves the data of a set of tables from a source server to a target server as binary
COPY through parallel lanes that read one exported snapshot; each chunk commits atomically
on the target with its record in a run catalog, so a crash never leaves a duplicate or a hole,
and every row is verified by digest. The documentation is in
.IR /usr/share/doc/pgblit/ .
.SH COMMANDS AND OPTIONS
ROFF
for command in "${flag_commands[@]}"; do
  echo ".SS \"pgblit${command:+ $command}\""
  echo ".nf"
  "$bin" $command --help | roff
  echo ".fi"
done
cat <<'ROFF'
.SH ENVIRONMENT
.TP
.B SOURCE_DATABASE_URL, TARGET_DATABASE_URL
the connections when \-\-source and \-\-target are not given
.TP
.B PGPASSWORD, PGSERVICE, PGSSLMODE, ...
read by libpq as usual; .pgpass works too
.SH EXIT STATUS
0 done; 1 runtime failure; 2 bad usage or a check refused before anything was written;
3 verification found differences; 4 finished with rows set aside as rejects; 5 the dry run
says no\-go.
See
.IR /usr/share/doc/pgblit/exit-codes.md .
ROFF
