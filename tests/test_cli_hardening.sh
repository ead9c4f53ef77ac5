# tests/test_cli_hardening.sh - hostile inputs and environments (issue "hardening"): links planted at
# temporary names, long paths, non-finite and empty input files, in-progress run folders, memory
# limits.  Each check asserts the exit status and, for exit 2, the one stderr line.
. tests/lib.sh
D=$TMP
# mknpy FILE SHAPE N VALUE: a float64 .npy file of the given shape holding N copies of VALUE
# (one of: one, nan, inf), written with printf (no numpy needed)
mknpy() {
  h="{'descr': '<f8', 'fortran_order': False, 'shape': $2, }"
  pad=$(( (64 - (10 + ${#h} + 1) % 64) % 64 )); len=$(( ${#h} + pad + 1 ))
  case $4 in one) v='\000\000\000\000\000\000\360\077' ;; nan) v='\000\000\000\000\000\000\370\177' ;;
    inf) v='\000\000\000\000\000\000\360\177' ;; esac
  { printf '\223NUMPY\001\000'; printf "\\$(printf %03o $((len % 256)))\\$(printf %03o $((len / 256)))"
    printf '%s' "$h"; printf "%${pad}s" ''; printf '\n'
    i=0; while [ $i -lt "$3" ]; do printf "$v"; i=$((i + 1)); done; } >"$1"
}
# expect_msg NAME PATTERN: the last command's stderr line matches PATTERN
expect_msg() { if grep -q -E -- "$2" "$TMP/err"; then ok; else bad "$1: /$2/ not in: $(cat "$TMP/err")"; fi; }

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

# ---- crafted .npy shapes (item: a wrapped shape product once read the heap out of bounds) -----------
mkdir -p "$D/an"
expect_exit 0 "analyze input run" $CS flow --arch fused --width 4 --depth 2 --steps 5 --out "$D/an/r"
expect_exit 0 "analyze clean run" $CS analyze "$D/an/r" --out "$D/an/a"
broken() { rm -rf "$D/an/c"; cp -r "$D/an/r" "$D/an/c"; mknpy "$D/an/c/snap/$1" "$2" "$3" "$4"; }
broken map_a.npy '(256, 268435456, 268435456)' 0 one
expect_exit 2 "analyze: shape product wraps" $CS analyze "$D/an/c" --out "$D/an/a2"
expect_msg "names the file" "map_a.npy.*too large"
broken map_a.npy '(-1, 15, 4)' 120 one
expect_exit 2 "analyze: negative dimension" $CS analyze "$D/an/c" --out "$D/an/a2"
expect_msg "names the file" "map_a.npy.*non-negative"

# ---- non-finite snapshot arrays: exit 2 naming the file; a non-finite map stays a numerical failure
for f in "U.npy:(15, 8):120" "s.npy:(8,):8" "V.npy:(8, 8):64" "sxx.npy:(8, 8):64" "target.npy:(15, 8):120" \
         "hidden_a.npy:(2, 4, 4):32"; do
  arr=${f%%:*}; r=${f#*:}; broken "$arr" "${r%%:*}" "${r#*:}" nan
  expect_exit 2 "analyze: NaN in $arr" $CS analyze "$D/an/c" --out "$D/an/a2"
  expect_msg "analyze: NaN in $arr names it" "snap/$arr' entry 0 is nan"
done
broken map_a.npy '(2, 15, 4)' 120 nan
expect_exit 1 "analyze: NaN map is a numerical failure" $CS analyze "$D/an/c" --out "$D/an/a2"

# ---- empty and non-finite input matrices: exit 2 naming the option and the file ---------------------
mknpy "$D/t05.npy" '(0, 5)' 0 one; mknpy "$D/y04.npy" '(0, 4)' 0 one; mknpy "$D/i44.npy" '(4, 4)' 16 one
mknpy "$D/one.npy" '(3, 4)' 12 one; mknpy "$D/nan.npy" '(3, 4)' 12 nan; mknpy "$D/inf44.npy" '(4, 4)' 16 inf
mknpy "$D/nan44.npy" '(4, 4)' 16 nan
expect_exit 2 "--target (0,5)" $CS flow --target "$D/t05.npy" --steps 3 --out "$D/o"
expect_msg "--target (0,5) message" "^critsim flow: --target: '.*t05.npy' holds a 0 x 5 matrix"
expect_exit 2 "--sigma-yx (0,4)" $CS flow --sigma-xx "$D/i44.npy" --sigma-yx "$D/y04.npy" --steps 3 --out "$D/o"
expect_msg "--sigma-yx (0,4) message" "^critsim flow: --sigma-yx: '.*y04.npy' holds a 0 x 4 matrix"
nonfinite() { # NAME OPTION-NAME-IN-MESSAGE FILE ARGS...
  label=$1; opt=$2; file=$3; shift 3
  expect_exit 2 "$label" $CS flow "$@" --steps 3 --out "$D/o"
  expect_msg "$label message" "^critsim flow: $opt: '.*$file' entry \(0, 0\) is (nan|inf); every entry must be finite"
}
nonfinite "NaN --target" --target nan.npy --target "$D/nan.npy"
nonfinite "NaN --target2" --target2 nan.npy --target "$D/one.npy" --target2 "$D/nan.npy" --deficit switch@2
nonfinite "Inf --sigma-xx" --sigma-xx inf44.npy --sigma-xx "$D/inf44.npy" --sigma-yx "$D/one.npy"
nonfinite "NaN --sigma-yx" --sigma-yx nan.npy --sigma-xx "$D/i44.npy" --sigma-yx "$D/nan.npy"
nonfinite "NaN completion target" --target nan44.npy --task completion --target "$D/nan44.npy"
nonfinite "NaN --init-weights" --init-weights nan.npy --depth 1 --init-weights "$D/nan.npy,$D/nan.npy"

# ---- a numerical failure: every engine's final.dat ends with the FAILED line naming the step --------
expect_exit 1 "modes --dt 5" $CS modes --dt 5 --steps 50 --out "$D/fm"
expect_grep "modes final.dat FAILED" '^# FAILED at step 5: state non-finite' "$D/fm/final.dat"
expect_exit 1 "phase --dt 5" $CS phase --dt 5 --out "$D/fp"
expect_grep "phase final.dat FAILED" '^# FAILED at step 5: state non-finite' "$D/fp/final.dat"
expect_exit 1 "flow --lr 100" $CS flow --lr 100 --steps 50 --out "$D/ff"
expect_grep "flow final.dat FAILED" '^# FAILED at step 6: the loss became non-finite' "$D/ff/final.dat"
expect_grep "flow final.dat nan loss" '^final_loss nan$' "$D/ff/final.dat"
expect_exit 1 "cnn diverges" $CS cnn --train-subset 512 --test-subset 256 --batch 64 --width 4 --depth 1 --quiet \
  --epochs 1 --lr 100 --wd 10 --momentum 1 --out "$D/fc"
expect_grep "cnn final.dat FAILED" '^# FAILED at step 1: non-finite weights after epoch 0' "$D/fc/final.dat"

# ---- long paths: never truncated, never an assertion; what does not fit is exit 2 --------------------
# mkp N: a path of exactly N characters under $D/lp, made of 200-character folder names
mkp() { p="$D/lp"; while [ ${#p} -lt $(( $1 - 201 )) ]; do p="$p/$(printf '%0200d' 0)"; done
  p="$p/$(printf "%0$(( $1 - ${#p} - 1 ))d" 0)"; echo "$p"; }
P=$(mkp 1023); mkdir -p "$P"
expect_exit 0 "flow --out 1023 characters + /run" $CS flow --steps 3 --width 4 --out "$P/run"
[ -f "$P/run/final.dat" ] && [ ! -e "$P/final.dat" ] && ok || bad "flow --out PREFIX/run wrote into the prefix"
expect_exit 0 "flow --out 2100 characters" $CS flow --steps 3 --width 4 --out "$(mkp 2100)"
expect_exit 2 "flow --out 4090 characters" $CS flow --steps 3 --width 4 --out "$(mkp 4090)"
expect_exit 2 "analyze RUN 2044 characters (no run)" $CS analyze "$(mkp 2044)" --out "$D/lpa"
expect_exit 2 "analyze RUN 4095 characters" $CS analyze "$(mkp 4095)" --out "$D/lpa"
expect_exit 2 "cnn --data-dir 4100 characters" $CS cnn --data-dir "$(mkp 4100)" --epochs 1 --out "$D/lpc"
expect_msg "cnn --data-dir message" "longer than 4095 characters"
X=$(mkp 2399); mkdir -p "$(dirname "$X")"; echo victim >"$X"
expect_exit 0 "modes --out X/victim.datQQQQ" $CS modes --steps 3 --out "${X}QQQQ"
[ "$(cat "$X")" = victim ] && ok || bad "modes --out with a long path replaced a file of a shorter name"
expect_exit 2 "modes --out 4094 characters" $CS modes --steps 3 --out "$(mkp 4094)"
expect_msg "modes long --out message" "(File name too long|longer than)"
[ -z "$(find "$D/lp" -name '.*')" ] && ok || bad "temporary files left: $(find "$D/lp" -name '.*' | head -3)"

# ---- in-progress marker: a run that stops midway leaves its folder marked; readers refuse it ---------
R="$D/mark"
expect_exit 0 "marker: first run" $CS flow --steps 3 --width 4 --out "$R"
[ ! -e "$R/.in-progress" ] && ok || bad "a finished run left its marker"
rm -f "$R/weights_b_2.npy"; mkdir "$R/weights_b_2.npy" # the re-run fails after publishing its tables
expect_exit 2 "marker: re-run fails midway" $CS flow --steps 5 --width 4 --out "$R"
[ -f "$R/.in-progress" ] && ok || bad "a run that failed midway left no marker"
expect_exit 2 "marker: analyze refuses" $CS analyze "$R"
expect_msg "marker: analyze message" "^critsim analyze: run folder '$R' is marked in progress"
rmdir "$R/weights_b_2.npy"
expect_exit 0 "marker: re-run on the marked folder" $CS flow --steps 5 --width 4 --out "$R"
[ ! -e "$R/.in-progress" ] && ok || bad "the completed re-run left the marker"
expect_exit 0 "marker: analyze after the re-run" $CS analyze "$R"
expect_exit 1 "marker: numerical failure" $CS flow --lr 100 --steps 50 --out "$R"
[ ! -e "$R/.in-progress" ] && ok || bad "a run that failed numerically (FAILED tables published) left the marker"
expect_exit 2 "marker: usage error" $CS flow --steps 3 --width 4 --target "$D/nope.npy" --out "$D/mark2"
[ ! -e "$D/mark2" ] && ok || bad "a run refused before writing anything left a folder"
printf 'command = flow\nwidth = 4\nsteps = 3\nsnap-every = 0\n[sweep]\nvary = depth=1,2\n' >"$D/sw.ini"
expect_exit 0 "marker: sweep shard 1" $CS sweep --model "$D/sw.ini" --shard 1/2 --quiet --out "$D/sh1"
expect_exit 0 "marker: sweep shard 2" $CS sweep --model "$D/sw.ini" --shard 2/2 --quiet --out "$D/sh2"
[ ! -e "$D/sh1/.in-progress" ] && ok || bad "a finished sweep left its marker"
echo "pid 1: critsim sweep" >"$D/sh2/.in-progress" # as a shard still running leaves it
expect_exit 2 "marker: merge refuses a marked shard" $CS sweep --merge "$D/sh1,$D/sh2" --quiet --out "$D/shm"
expect_msg "marker: merge message" "sweep shard '$D/sh2' is marked in progress"
rm "$D/sh2/.in-progress"
expect_exit 0 "marker: merge" $CS sweep --merge "$D/sh1,$D/sh2" --quiet --out "$D/shm"

# ---- out of memory: a usage error (exit 2) naming the options that asked for the size -------------
# Memory is bounded so that the check does not depend on the machine: `ulimit -v` (1 GB of address
# space) in the normal build; AddressSanitizer cannot start under `ulimit -v`, so an ASan build instead
# gets a 1 GB maximum allocation size with failed allocations returning NULL (ASan's own
# "==PID==WARNING: AddressSanitizer failed to allocate" line is dropped: it is not the program's).
oom() {
  if grep -q __asan_init "$CS" 2>/dev/null; then
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1:max_allocation_size_mb=1024" \
      "$@" 2>"$TMP/oom.err"; st=$?
    grep -v '^==[0-9]*==WARNING: AddressSanitizer failed to allocate' "$TMP/oom.err" >&2; return $st
  else (ulimit -v 1000000 && exec "$@"); fi
}
expect_exit 2 "oom: completion target" oom $CS flow --task completion --n 100000 --arch fused --steps 5 --out "$D/oom1"
expect_msg "oom: completion names --n" '^critsim: out of memory allocating 80000000000 bytes for the task \(--task completion --n 100000.*reduce --n$'
expect_exit 2 "oom: network" oom $CS flow --width 20000 --depth 4 --steps 5 --out "$D/oom2"
expect_msg "oom: network names --width" '^critsim: out of memory allocating [0-9]+ bytes for the network \(--arch paths --width 20000 --depth 4 .*reduce --width, --depth'
expect_exit 0 "oom: a small run fits the same bound" oom $CS flow --steps 5 --width 4 --out "$D/oom3"

done_checks test_cli_hardening
