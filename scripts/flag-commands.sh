# The commands whose --help texts are the flag reference, in the order docs/flags.md and the
# man page list them (sourced by scripts/flags-doc.sh and scripts/man-page.sh: one list).
flag_commands=("" copy plan verify clean status report backup restore "spool ls" "spool prune" unfence rollback cutover unfollow)
