#!/bin/sh
# test_cli_cnn.sh - `critsim cnn`: usage errors, tiny runs on a Fashion-MNIST subset, checkpoints,
# --resume after a kill equals an uninterrupted run, --branch, corrupted checkpoints.
. "$(dirname "$0")/lib.sh"

FM=/usr/share/datasets/fashion-mnist
# tiny network and data so that the whole file runs in a few seconds
TINY="--train-subset 512 --test-subset 256 --batch 64 --width 4 --depth 1 --quiet"

expect_exit 2 bad-arch $CS cnn --arch resnet --out "$TMP/x"
expect_exit 2 bad-epochs $CS cnn --epochs 0 --out "$TMP/x"
expect_exit 2 bad-data $CS cnn --data mnist --out "$TMP/x"
expect_exit 2 bad-width $CS cnn --width 0 --out "$TMP/x"
expect_exit 2 bad-lr $CS cnn --lr abc --out "$TMP/x"
expect_exit 2 split-one-source $CS cnn --arch split --sources 1 --out "$TMP/x"
expect_exit 2 split-fuse-after $CS cnn --arch split --depth 1 --fuse-after 2 --out "$TMP/x"
expect_exit 2 bad-deficit $CS cnn --deficit warp@0-3 --out "$TMP/x"
expect_exit 2 missing-data-dir $CS cnn --data-dir "$TMP/nowhere" --out "$TMP/x"
expect_exit 2 missing-branch $CS cnn $TINY --branch "$TMP/none.bin" --out "$TMP/x"
expect_grep help-default-net "conv W - conv 2W s2" "$($CS cnn --help >"$TMP/help"; echo "$TMP/help")"

if [ ! -f "$FM/train-images-idx3-ubyte.gz" ]; then
  echo "test_cli_cnn: $FM missing (apt-get install dataset-fashion-mnist); data runs skipped"
  done_checks test_cli_cnn; exit $?
fi

cols() { grep -v '^#' "$1" | awk '{print $1, $2, $3, $4, $5, $6}'; } # every column but seconds

# a tiny fused run: tables, columns, accuracy in [0, 1]
expect_exit 0 tiny-run $CS cnn $TINY --epochs 2 --seed 3 --out "$TMP/a"
expect_grep epochs-columns '^# epoch lr train_loss train_acc test_loss test_acc seconds$' "$TMP/a/epochs.dat"
expect_grep final-acc '^test_acc (0|1|0\.[0-9]+)$' "$TMP/a/final.dat"
expect_grep final-loss '^final_loss [0-9.]+' "$TMP/a/final.dat"
[ "$(grep -vc '^#' "$TMP/a/epochs.dat")" -eq 2 ] && ok || bad "tiny-run: epochs.dat should have 2 rows"
# --clean-epochs N: the run lasts until the last deficit ends, then N clean epochs (replaces --epochs)
expect_exit 0 clean-epochs $CS cnn $TINY --epochs 9 --deficit flip@0-1 --deficit blur:4@1-2 --clean-epochs 1 --out "$TMP/ce"
[ "$(grep -vc '^#' "$TMP/ce/epochs.dat")" -eq 3 ] && ok || bad "clean-epochs: want 2 + 1 = 3 rows"
[ -f "$TMP/a/checkpoint.bin" ] && ok || bad "tiny-run: no checkpoint.bin"

# same seed, same thread count: identical numbers
expect_exit 0 tiny-rerun $CS cnn $TINY --epochs 2 --seed 3 --out "$TMP/a2"
[ "$(cols "$TMP/a/epochs.dat")" = "$(cols "$TMP/a2/epochs.dat")" ] && ok || bad "determinism: reruns differ"

# split network, concatenation, a blur deficit on source b and augmentation
expect_exit 0 split-run $CS cnn $TINY --epochs 2 --arch split --fusion concat --fuse-after 1 \
  --deficit blur:b:4@0-1 --augment --checkpoint-every 1 --out "$TMP/s"
[ -f "$TMP/s/ckpt_1.bin" ] && ok || bad "split-run: no ckpt_1.bin"

# dissociate: source b from another image of the batch; needs two sources, takes no arguments
expect_exit 0 dissociate $CS cnn $TINY --epochs 2 --arch split --deficit dissociate@0-1 --seed 2 --out "$TMP/dis"
expect_exit 0 dissociate-rerun $CS cnn $TINY --epochs 2 --arch split --deficit dissociate@0-1 --seed 2 --out "$TMP/dis2"
[ "$(cols "$TMP/dis/epochs.dat")" = "$(cols "$TMP/dis2/epochs.dat")" ] && ok || bad "dissociate: reruns differ"
expect_exit 0 dissociate-none $CS cnn $TINY --epochs 2 --arch split --seed 2 --out "$TMP/dis0"
[ "$(cols "$TMP/dis/epochs.dat" | head -n 1)" != "$(cols "$TMP/dis0/epochs.dat" | head -n 1)" ] && ok || bad "dissociate: epoch 1 equals the clean run"
expect_exit 2 dissociate-one-source $CS cnn $TINY --sources 1 --deficit dissociate@0-1 --out "$TMP/x"
expect_grep dissociate-one-source-msg 'sources 2' "$TMP/err"
expect_exit 2 dissociate-arg $CS cnn $TINY --deficit dissociate:b@0-1 --out "$TMP/x"

# --schedule: the lr column (epoch e = row - 1) equals the formula to the table's 9 digits (relative
# 1e-8 > the 5e-9 rounding of %.9g); restart without a deficit is the decay schedule, bit for bit
lrcheck() { # FILE AWK-FORMULA-OF-e: prints the rows whose lr differs
  grep -v '^#' "$1" | awk -v OFS=' ' "{ e = \$1 - 1; pi = atan2(0, -1); f = $2; d = \$2 - f; if (d < 0) d = -d; if (d > 1e-8 * f) print }"
}
expect_exit 0 sched-decay $CS cnn $TINY --epochs 5 --lr 0.05 --decay 0.9 --deficit flip@0-2 --out "$TMP/sd"
[ -z "$(lrcheck "$TMP/sd/epochs.dat" '0.05 * 0.9 ^ e')" ] && ok || bad "schedule decay: lr column is not 0.05*0.9^e"
expect_grep sched-decay-header '^# schedule: decay' "$TMP/sd/epochs.dat"
expect_exit 0 sched-restart $CS cnn $TINY --epochs 5 --lr 0.05 --decay 0.9 --deficit flip@0-2 --schedule restart --out "$TMP/sr"
[ -z "$(lrcheck "$TMP/sr/epochs.dat" '0.05 * 0.9 ^ (e < 2 ? e : e - 2)')" ] && ok || bad "schedule restart: lr column is not 0.05*0.9^(e-2) after the deficit"
expect_grep sched-restart-header '^# method: .*0.05 \* 0.9\^\(epoch - 2\) from it on' "$TMP/sr/epochs.dat"
[ "$(cols "$TMP/sr/epochs.dat" | head -n 2)" = "$(cols "$TMP/sd/epochs.dat" | head -n 2)" ] && ok || bad "schedule restart: the deficit epochs differ from decay"
[ "$(cols "$TMP/sr/epochs.dat" | sed -n 3p)" != "$(cols "$TMP/sd/epochs.dat" | sed -n 3p)" ] && ok || bad "schedule restart: no change after the deficit"
expect_exit 0 sched-restart-none $CS cnn $TINY --epochs 3 --lr 0.05 --decay 0.9 --schedule restart --out "$TMP/sr0"
expect_exit 0 sched-decay-none $CS cnn $TINY --epochs 3 --lr 0.05 --decay 0.9 --out "$TMP/sd0"
[ "$(cols "$TMP/sr0/epochs.dat")" = "$(cols "$TMP/sd0/epochs.dat")" ] && ok || bad "schedule restart without deficit differs from decay"
expect_exit 0 sched-cyclic $CS cnn $TINY --epochs 5 --lr 0.05 --schedule cyclic --cycle 3 --out "$TMP/sc"
[ -z "$(lrcheck "$TMP/sc/epochs.dat" '0.05 * (1 + cos(pi * (e % 3) / 3)) / 2')" ] && ok || bad "schedule cyclic: lr column is not the cosine formula"
expect_grep sched-cyclic-header '^# method: .*lr = 0.05 \* \(1 \+ cos\(pi \* \(epoch mod 3\) / 3\)\) / 2' "$TMP/sc/epochs.dat"
[ "$(grep -vc '^#' "$TMP/sc/epochs.dat")" -eq 5 ] && ok || bad "schedule cyclic: want 5 rows"
expect_exit 2 sched-bad $CS cnn $TINY --schedule linear --out "$TMP/x"
expect_exit 2 sched-cycle0 $CS cnn $TINY --schedule cyclic --cycle 0 --out "$TMP/x"
expect_exit 2 clean-epochs-huge $CS cnn $TINY --clean-epochs 5 --deficit flip@0-99999999999 --out "$TMP/x"

# resumption: 2 epochs, then --resume to 4 == 4 epochs straight
expect_exit 0 full-4 $CS cnn $TINY --epochs 4 --seed 5 --deficit flip@0-2 --out "$TMP/full"
expect_exit 0 part-2 $CS cnn $TINY --epochs 2 --seed 5 --deficit flip@0-2 --out "$TMP/part"
expect_exit 0 resume-4 $CS cnn $TINY --epochs 4 --seed 5 --deficit flip@0-2 --resume --out "$TMP/part"
[ "$(cols "$TMP/full/epochs.dat")" = "$(cols "$TMP/part/epochs.dat")" ] && ok || bad "resume: epochs.dat differs from the uninterrupted run"
[ "$(grep -v '^#' "$TMP/full/final.dat")" = "$(grep -v '^#' "$TMP/part/final.dat")" ] && ok || bad "resume: final.dat differs"

# kill -9 in the middle of a run, then --resume: same result as the uninterrupted run
KILL="--train-subset 2048 --test-subset 256 --batch 64 --width 4 --depth 1 --quiet --epochs 4 --seed 5 --deficit flip@0-2"
expect_exit 0 kill-ref $CS cnn $KILL --out "$TMP/kref"
$CS cnn $KILL --out "$TMP/kill" 2>/dev/null &
pid=$!
i=0
while [ ! -f "$TMP/kill/checkpoint.bin" ] && [ $i -lt 400 ]; do sleep 0.02; i=$((i + 1)); done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
[ ! -f "$TMP/kill/final.dat" ] && ok || echo "test_cli_cnn: note: the run finished before it could be killed"
expect_exit 0 kill-resume $CS cnn $KILL --resume --out "$TMP/kill"
[ "$(cols "$TMP/kref/epochs.dat")" = "$(cols "$TMP/kill/epochs.dat")" ] && ok || bad "kill/resume: epochs.dat differs"
[ "$(grep -v '^#' "$TMP/kref/final.dat")" = "$(grep -v '^#' "$TMP/kill/final.dat")" ] && ok || bad "kill/resume: final.dat differs"

# branching from a checkpoint: rows start after the checkpoint's epoch
expect_exit 0 branch $CS cnn $TINY --epochs 3 --arch split --fusion concat --fuse-after 1 --branch "$TMP/s/ckpt_1.bin" --out "$TMP/b"
[ "$(grep -v '^#' "$TMP/b/epochs.dat" | awk '{print $1}' | tr '\n' ' ')" = "2 3 " ] && ok || bad "branch: rows should be epochs 2 3"
expect_exit 2 branch-mismatch $CS cnn $TINY --epochs 3 --branch "$TMP/s/ckpt_1.bin" --out "$TMP/b2"

# --branch-mode exact: a trunk with the deficit [0, 4) kept at epoch 2 (--checkpoint-at), continued with
# the deficit [0, 2) and 2 clean epochs, equals the run from scratch (every column but seconds, final.dat);
# a weights-only branch (momentum reset) does not
X="$TINY --seed 5 --schedule restart"
expect_exit 0 exact-trunk $CS cnn $X --deficit blur:4@0-4 --epochs 2 --checkpoint-at 2 --out "$TMP/tr"
[ -f "$TMP/tr/ckpt_2.bin" ] && [ ! -f "$TMP/tr/ckpt_1.bin" ] && ok || bad "checkpoint-at: want ckpt_2.bin only"
expect_exit 0 exact-branch $CS cnn $X --deficit blur:4@0-2 --clean-epochs 2 --branch "$TMP/tr/ckpt_2.bin" --branch-mode exact --out "$TMP/ex"
expect_exit 0 exact-scratch $CS cnn $X --deficit blur:4@0-2 --clean-epochs 2 --out "$TMP/exs"
[ "$(grep -vc '^#' "$TMP/ex/epochs.dat")" -eq 4 ] && ok || bad "exact branch: want rows 1-4 (the trunk's history kept)"
[ "$(cols "$TMP/ex/epochs.dat")" = "$(cols "$TMP/exs/epochs.dat")" ] && ok || bad "exact branch: epochs.dat differs from the run from scratch"
[ "$(grep -v '^#' "$TMP/ex/final.dat")" = "$(grep -v '^#' "$TMP/exs/final.dat")" ] && ok || bad "exact branch: final.dat differs from scratch"
expect_grep exact-header '^# branch: continued exactly from checkpoint .*ckpt_2.bin' "$TMP/ex/epochs.dat"
expect_exit 0 weights-branch $CS cnn $X --deficit blur:4@0-2 --clean-epochs 2 --branch "$TMP/tr/ckpt_2.bin" --out "$TMP/wb"
[ "$(cols "$TMP/wb/epochs.dat" | tail -n 1)" != "$(cols "$TMP/exs/epochs.dat" | tail -n 1)" ] && ok || bad "weights branch equals the exact one: the test cannot see momentum"
expect_exit 2 exact-other-seed $CS cnn $TINY --seed 6 --epochs 4 --branch "$TMP/tr/ckpt_2.bin" --branch-mode exact --out "$TMP/x"
expect_grep exact-other-seed-msg 'same seed' "$TMP/err"
expect_exit 2 checkpoint-at-bad $CS cnn $TINY --checkpoint-at 0 --out "$TMP/x"
expect_exit 2 branch-mode-bad $CS cnn $TINY --branch-mode soft --out "$TMP/x"

# numerical failure: exit 1, the table is published with a FAILED line naming the step
expect_exit 1 diverge $CS cnn $TINY --epochs 2 --lr 100 --wd 10 --out "$TMP/div"
expect_grep diverge-failed '^# FAILED at step 1: non-finite' "$TMP/div/epochs.dat"

# damaged checkpoints are usage errors naming the problem
cp "$TMP/a/checkpoint.bin" "$TMP/trunc.bin"
head -c 1000 "$TMP/a/checkpoint.bin" >"$TMP/a/checkpoint.bin.t" && mv "$TMP/a/checkpoint.bin.t" "$TMP/a/checkpoint.bin"
expect_exit 2 truncated-checkpoint $CS cnn $TINY --epochs 3 --seed 3 --resume --out "$TMP/a"
expect_grep truncated-message 'truncated or corrupted' "$TMP/err"
printf 'NOTACKPT' | dd of="$TMP/trunc.bin" bs=1 count=8 conv=notrunc 2>/dev/null
expect_exit 2 bad-magic $CS cnn $TINY --epochs 3 --branch "$TMP/trunc.bin" --out "$TMP/c"
expect_grep bad-magic-message 'magic' "$TMP/err"
expect_exit 2 resume-other-seed $CS cnn $TINY --epochs 3 --seed 4 --resume --out "$TMP/a2"

done_checks test_cli_cnn
