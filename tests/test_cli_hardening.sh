# tests/test_cli_hardening.sh - hostile inputs and environments (issue "hardening"): links planted at
# temporary names, long paths, non-finite and empty input files, in-progress run folders, memory
# limits.  Each check asserts the exit status and, for exit 2, the one stderr line.
. tests/lib.sh
D=$TMP

# ---- links planted at the names temporary files used to have (NAME.body.PID, NAME.tmp.PID) --------
# `exec` keeps the shell's PID, so the links sit exactly where the old predictable names pointed.
mkdir -p "$D/ln/m" "$D/ln/f/snap"
echo precious >"$D/victim"
expect_exit 0 "planted links: modes" sh -c 'for n in modes.dat share.dat final.dat; do
  ln -s "$1" "$2/.$n.body.$$"; ln -s "$1" "$2/.$n.tmp.$$"; done; exec "$3" modes --steps 5 --out "$2"' \
  sh "$D/victim" "$D/ln/m" "$CS"
expect_exit 0 "planted links: flow snapshots" sh -c 'for n in map_a.npy map_b.npy hidden_a.npy hidden_b.npy target.npy U.npy s.npy V.npy; do
  ln -s "$1" "$2/snap/$n.tmp.$$"; done; exec "$3" flow --steps 5 --width 4 --out "$2"' sh "$D/victim" "$D/ln/f" "$CS"
[ "$(cat "$D/victim")" = precious ] && ok || bad "a planted link redirected a write: victim now $(head -c 60 "$D/victim")"
[ -f "$D/ln/m/modes.dat" ] && [ ! -L "$D/ln/m/modes.dat" ] && ok || bad "modes.dat not published as a file"
# a link at the final name is replaced, not written through
ln -s "$D/victim" "$D/ln/m/final.dat.lnk" && rm -f "$D/ln/m/final.dat" && mv "$D/ln/m/final.dat.lnk" "$D/ln/m/final.dat"
expect_exit 0 "link at the final name" $CS modes --steps 5 --out "$D/ln/m"
[ "$(cat "$D/victim")" = precious ] && [ ! -L "$D/ln/m/final.dat" ] && ok || bad "final.dat written through a link"

done_checks test_cli_hardening
