#!/bin/sh
# test_cli_options.sh - hostile options and inputs of the engines and of sweep: each case is one line
# on stderr and exit 2 (conflicting options, values the configuration does not read, malformed
# deficits, one-column --observed lines, integer overflow in deficits and sweep templates, sweep's
# re-exec with many arguments), and a killed switch sweep takes its branch processes with it.
. "$(dirname "$0")/lib.sh"
export OPENBLAS_NUM_THREADS=1

# expect_usage NAME PATTERN CMD...: exit 2, one 'critsim ...' line on stderr matching PATTERN
expect_usage() {
  name=$1; pat=$2; shift 2
  expect_exit 2 "$name" "$@"
  expect_grep "$name message" "$pat" "$TMP/err"
}

if $CS flow --help >/dev/null 2>&1; then
  printf '1 0\n0 1\n' >"$TMP/t.txt"
  # conflicting options name both (each used to be silently ignored)
  expect_usage target+sigma '--target and --sigma-xx' $CS flow --target "$TMP/t.txt" --sigma-xx "$TMP/t.txt" \
    --sigma-yx "$TMP/t.txt" --out "$TMP/o"
  expect_usage target+sigma-yx '--target and --sigma-yx' $CS flow --target "$TMP/t.txt" --sigma-yx "$TMP/t.txt" --out "$TMP/o"
  expect_usage target+latent '--target and --task latent' $CS flow --task latent --target "$TMP/t.txt" --out "$TMP/o"
  expect_usage sigma+completion '--sigma-xx and --task completion' $CS flow --task completion \
    --sigma-xx "$TMP/t.txt" --sigma-yx "$TMP/t.txt" --out "$TMP/o"
  expect_usage fused+pathways '--arch fused and --pathways 3' $CS flow --arch fused --pathways 3 --out "$TMP/o"
  # a value is checked even when this configuration never reads it (--jobs: switch sweeps only)
  expect_usage jobs-abc "--jobs \\(command line\\): 'abc' is not an integer" $CS flow --jobs abc --out "$TMP/o"
  expect_usage jobs-range '--jobs .*out of range' $CS flow --jobs -1 --out "$TMP/o"
  printf 'steps = 10\njobs = 1x\n' >"$TMP/jobs.ini"
  expect_usage jobs-file "jobs.ini:2\\): '1x' is not an integer" $CS flow --model "$TMP/jobs.ini" --out "$TMP/o"
  [ ! -e "$TMP/o" ] && ok || bad "a refused flow run wrote $TMP/o"
  # malformed deficits (strtok_r used to skip the empty fields; '+' alone read as no deficit)
  expect_usage 'deficit gate::b' "deficit 'gate::b@0-10': empty argument" $CS flow --deficit 'gate::b@0-10' --out "$TMP/o"
  expect_usage 'deficit gate:b:' "deficit 'gate:b:@0-10': empty argument" $CS flow --deficit 'gate:b:@0-10' --out "$TMP/o"
  expect_usage 'deficit +' "--deficit '\\+': empty deficit" $CS flow --deficit + --out "$TMP/o"
  expect_usage 'deficit A+' "empty deficit" $CS flow --deficit 'gate:b@0-10+' --out "$TMP/o"
  expect_usage 'deficit END 2^63-1' "END 9223372036854775807 is beyond" $CS flow --deficit 'gate:b@0-9223372036854775807' --out "$TMP/o"
  # one-column --observed lines (read as (row, 0) before)
  printf '0 1\n3\n' >"$TMP/obs.txt"
  expect_usage observed-one-column "obs.txt' line 2 is not 'row col'" $CS flow --task completion --n 10 --rank 2 \
    --observed "$TMP/obs.txt" --steps 2 --out "$TMP/o"
  printf '0 1\n3 \n' >"$TMP/obs.txt"
  expect_usage observed-one-column-blank "obs.txt' line 2 is not 'row col'" $CS flow --task completion --n 10 --rank 2 \
    --observed "$TMP/obs.txt" --steps 2 --out "$TMP/o"

  # kill -9 of a switch sweep: its branch processes die with it (PR_SET_PDEATHSIG), none keeps running
  $CS flow --task completion --n 12 --rank 3 --rank2 1 --n-obs 60 --arch fused --depth 2 --width 12 --lr 0.5 \
    --init-scale 0.1 --every 100000000 --switch-sweep 5,20 --continue 100000000 --jobs 3 --out "$TMP/sw" &
  pid=$!
  k=0; kids=""
  while [ -z "$kids" ] && [ $k -lt 200 ]; do sleep 0.05; k=$((k + 1)); kids=$(ps -o pid= --ppid $pid); done
  sleep 0.2
  kill -9 $pid; wait $pid 2>/dev/null
  [ -n "$kids" ] && ok || bad "switch sweep: no branch process seen within 10 s; the kill test proves nothing"
  alive=""; k=0
  while [ $k -lt 40 ]; do
    alive=""
    for c in $kids; do
      st=$(awk '{print $3}' "/proc/$c/stat" 2>/dev/null)
      [ -n "$st" ] && [ "$st" != Z ] && alive="$alive $c"
    done
    [ -z "$alive" ] && break
    sleep 0.05; k=$((k + 1))
  done
  [ -z "$alive" ] && ok || { bad "kill -9 of a switch sweep left branch processes$alive running"; kill -9 $alive; }
fi

if $CS modes --help >/dev/null 2>&1; then
  expect_usage headline+depth '--headline and --depth' $CS modes --headline --depth 3 --out "$TMP/o"
  expect_usage headline+deficit '--headline and --deficit' $CS modes --headline --deficit gate:b@0-1 --out "$TMP/o"
fi
if $CS phase --help >/dev/null 2>&1; then
  expect_usage grid+init-p '--start grid and --init-p' $CS phase --start grid --init-p 0.1 --out "$TMP/o"
  expect_usage random+init-p '--start random and --init-p' $CS phase --init-p 0.1 --out "$TMP/o"
fi
if $CS cnn --help >/dev/null 2>&1; then
  # END + clean epochs: no overflow past the epochs limit
  expect_usage cnn-clean-epochs 'that is 3000001 epochs \(at most 1000000\)' $CS cnn --clean-epochs 1 \
    --deficit blur:7@0-3000000 --out "$TMP/o"
  expect_usage cnn-clean-end-max 'END 9223372036854775807 is beyond' $CS cnn --clean-epochs 1 \
    --deficit blur:7@0-9223372036854775807 --out "$TMP/o"
fi

if $CS flow --help >/dev/null 2>&1; then
  M=$TMP/m.ini
  printf 'command = flow\ntask = hier\nwidth = 10\nsteps = 20\nevery = 20\nsnap-every = 0\n' >"$M"
  # --plan checks every value of every axis as the engine would read it
  expect_usage plan-depth-abc "--depth \\(sweep\\): 'abc' is not an integer" $CS sweep --model "$M" --vary depth=1,abc \
    --plan --out "$TMP/p"
  # integer overflow in templates and ranges (UBSan used to report it; values wrapped around)
  expect_usage template-overflow "'\\{end\\+9223372036854775807\\}': integers must lie within" $CS sweep --model "$M" \
    --vary 'deficit=gate:b@{end=0:10:20}-{end+9223372036854775807}' --plan --out "$TMP/p"
  expect_usage template-overflow-neg "integers must lie within" $CS sweep --model "$M" \
    --vary 'deficit=gate:b@{end=0:10:20}-{end--9223372036854775808}' --plan --out "$TMP/p"
  expect_usage seed-range-2^63 "integers must lie within" $CS sweep --model "$M" \
    --vary seed=9223372036854775000:100:9223372036854775807 --plan --out "$TMP/p"
  expect_usage seed-range-span "integers must lie within" $CS sweep --model "$M" \
    --vary seed=-9223372036854775807:9223372036854775807:9223372036854775807 --plan --out "$TMP/p"
  expect_exit 0 seed-range-2^53 $CS sweep --model "$M" --vary seed=9007199254740990:1:9007199254740992 --plan --out "$TMP/p"
  # the sweep re-executes itself with OPENBLAS_NUM_THREADS=1: every argument is carried over (511 were)
  many=""; k=0; while [ $k -lt 600 ]; do many="$many --quiet"; k=$((k + 1)); done
  expect_exit 0 reexec-600-args env -u OPENBLAS_NUM_THREADS -u CRITSIM_SWEEP_REEXEC $CS sweep --model "$M" \
    --vary depth=1,2 $many --out "$TMP/many"
  [ "$(grep -vc '^#' "$TMP/many/summary.dat" 2>/dev/null)" = 2 ] && ok || bad "re-exec with 600 arguments: no 2-row summary"
fi
done_checks test_cli_options
