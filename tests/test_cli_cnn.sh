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
expect_exit 2 misspelt-snap $CS cnn --snap-evry 1 --out "$TMP/x"
expect_exit 2 bad-rsv-batches $CS cnn --rsv-batches 1 --out "$TMP/x"
expect_exit 2 bad-fisher-every $CS cnn --fisher-every -1 --out "$TMP/x"

if [ ! -f "$FM/train-images-idx3-ubyte.gz" ]; then
  echo "test_cli_cnn: $FM missing (apt-get install dataset-fashion-mnist); data runs skipped"
  done_checks test_cli_cnn; exit $?
fi

cols() { grep -v '^#' "$1" | awk '{$7 = ""; print}'; } # every column but seconds

# a tiny fused run: tables, columns, accuracy in [0, 1]
expect_exit 0 tiny-run $CS cnn $TINY --epochs 2 --seed 3 --out "$TMP/a"
expect_grep epochs-columns '^# epoch lr train_loss train_acc test_loss test_acc seconds test_acc_a test_acc_b test_loss_a test_loss_b info_a info_b$' "$TMP/a/epochs.dat"
# info_P = log2(10) - test_loss_P / ln 2 on every row
awk '!/^#/ { d = 3.321928094887362 - $10 / log(2) - $12; if (d > 1e-6 || d < -1e-6) bad = 1 } END { exit bad }' "$TMP/a/epochs.dat" && ok || bad "info_a != log2(10) - test_loss_a / ln 2"
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
# batch-norm re-estimation on clean batches: while source b is removed the statistics still match the
# clean test images, so the test loss during the deficit is that of a near-chance classifier (~ln 10 =
# 2.30; bound 2 ln 10), not the ~5e5 that statistics of deficit batches gave this exact run
expect_exit 0 bn-clean $CS cnn $TINY --arch split --epochs 2 --seed 2 --deficit remove:b@0-1 --out "$TMP/bnc"
awk '!/^#/ && $1 == 1 { f = 1; if (!($5 >= 0 && $5 < 4.61 && $11 >= 0 && $11 < 4.61)) bad = 1 } END { exit bad || !f }' "$TMP/bnc/epochs.dat" && ok || bad "bn-clean: test_loss or test_loss_b during remove:b is not in [0, 2 ln 10)"
expect_grep bn-clean-header '^# batch norm: .*deficits switched off' "$TMP/bnc/epochs.dat"
expect_exit 2 dissociate-one-source $CS cnn $TINY --sources 1 --deficit dissociate@0-1 --out "$TMP/x"
expect_grep dissociate-one-source-msg 'needs --sources 2' "$TMP/err"
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
expect_exit 2 exact-snapshots $CS cnn $TINY --seed 5 --epochs 4 --branch "$TMP/tr/ckpt_2.bin" --branch-mode exact --snap-every 1 --out "$TMP/x"
expect_exit 2 checkpoint-at-bad $CS cnn $TINY --checkpoint-at 0 --out "$TMP/x"
expect_exit 2 branch-mode-bad $CS cnn $TINY --branch-mode soft --out "$TMP/x"

# numerical failure: exit 1, the table is published with a FAILED line naming the step
expect_exit 1 diverge $CS cnn $TINY --epochs 2 --lr 100 --wd 10 --out "$TMP/div"
expect_grep diverge-failed '^# FAILED at step 1: non-finite' "$TMP/div/epochs.dat"
# the library names train_cfg.lr0; the tables and stderr name the option (table_prov.reword, opts_errmsg)
expect_grep diverge-epochs-option '^# FAILED at step 1: non-finite .*\(lower --lr\)$' "$TMP/div/epochs.dat"
expect_grep diverge-final-option '^# FAILED at step 1: non-finite .*\(lower --lr\)$' "$TMP/div/final.dat"
expect_grep diverge-stderr-option 'non-finite .*\(lower --lr\)$' "$TMP/err"

# snapshots, RSV and Fisher: bad input
expect_exit 2 probe-too-large $CS cnn $TINY --snap-every 1 --probe 257 --out "$TMP/x"
expect_grep probe-message 'larger than the test set' "$TMP/err"
expect_exit 2 fisher-too-large $CS cnn $TINY --fisher-every 1 --fisher-samples 300 --out "$TMP/x"
expect_exit 2 bad-rsv-layer $CS cnn $TINY --arch split --snap-every 1 --rsv-layer stage9 --out "$TMP/x"
expect_exit 2 rsv-one-source $CS cnn $TINY --sources 1 --rsv-layer head --out "$TMP/x"
expect_exit 2 rsv-batch-too-big $CS cnn $TINY --arch split --snap-every 1 --rsv-batches 2 --batch 32 --out "$TMP/x"
expect_exit 2 ref-without-snapshots $CS cnn $TINY --snap-ref-epoch 1 --out "$TMP/x"
expect_exit 2 ref-not-a-snapshot $CS cnn $TINY --epochs 4 --snap-every 2 --snap-ref-epoch 3 --out "$TMP/x"

# a two-source split run with snapshots every 2 epochs (and at the deficit boundary 1) and the Fisher
# trace: the analyzer reads the snapshots, RSV tables included
SNAP="$TINY --arch split --epochs 3 --seed 2 --deficit remove:b@0-1 --snap-every 2 --probe 64 --rsv-batches 8 --fisher-every 2 --fisher-samples 64"
expect_exit 0 snap-run $CS cnn $SNAP --out "$TMP/sn"
[ "$(grep -v '^#' "$TMP/sn/snap/index.dat" | awk '{print $2 / 8, $3}' | tr '\n' ' ')" = "0 0 1 1 2 2 3 3 " ] && ok || bad "snap-run: snapshot epochs should be 0 1 2 3 (step = 8 updates per epoch)"
expect_grep snap-nin '^# n_in = 392,392$' "$TMP/sn/snap/index.dat"
expect_grep snap-units '^# n_units = 12544$' "$TMP/sn/snap/index.dat" # 8 slots x 8 channels x 14 x 14 positions (head.bn+relu)
expect_grep snap-svd '^# svd: U, s, V = SVD of the total map .* at epoch 3 ' "$TMP/sn/snap/index.dat"
expect_grep fisher-cols '^# epoch total L1 L2 L3 L4 L5 L6 L7 L8$' "$TMP/sn/fisher.dat"
[ "$(grep -v '^#' "$TMP/sn/fisher.dat" | awk '{print $1}' | tr '\n' ' ')" = "0 2 " ] && ok || bad "fisher rows should be epochs 0 2"
awk '!/^#/ { s = 0; for (i = 3; i <= NF; i++) s += $i; if (s - $2 > 1e-6 * $2 || $2 - s > 1e-6 * $2 || $2 < 0) bad = 1; last = $2 } END { exit bad || last <= 0 }' "$TMP/sn/fisher.dat" && ok || bad "fisher: total is not the sum of the layers, or the epoch-2 trace is not positive"
# epoch 0 (statistics re-estimated on clean batches, b removed in training only): a positive trace too
awk '!/^#/ && $1 == 0 { f = 1; if (!($2 > 0)) bad = 1 } END { exit bad || !f }' "$TMP/sn/fisher.dat" && ok || bad "fisher: the epoch-0 trace is not positive"
expect_exit 0 snap-analyze $CS analyze "$TMP/sn"
[ "$(grep -vc '^#' "$TMP/sn/rsv_hist.dat")" -eq $((4 * 39)) ] && ok || bad "analyze: rsv_hist.dat should have 4 snapshots x 39 bins"
[ "$(grep -vc '^#' "$TMP/sn/rsv.dat")" -eq $((4 * 12544)) ] && ok || bad "analyze: rsv.dat should have 4 x 12544 units"
expect_grep snap-share '^# ' "$TMP/sn/share.dat"
# a one-source run writes one map over the whole image
expect_exit 0 snap-one-source $CS cnn $TINY --sources 1 --epochs 1 --snap-every 1 --probe 32 --out "$TMP/s1"
expect_grep snap-one-nin '^# n_in = 784$' "$TMP/s1/snap/index.dat"
expect_grep snap-one-units '^# n_units = 0$' "$TMP/s1/snap/index.dat"
[ ! -f "$TMP/s1/snap/map_b.npy" ] && ok || bad "one source: map_b.npy written"
grep -q 'test_acc_a' "$TMP/s1/epochs.dat" && bad "one source: per-source columns written" || ok

# kill -9 during a run with snapshots and Fisher, then --resume: the same snapshots, Fisher rows and
# epochs as the uninterrupted run
KS="$KILL --arch split --snap-every 1 --probe 64 --rsv-batches 8 --fisher-every 1 --fisher-samples 64"
expect_exit 0 ksnap-ref $CS cnn $KS --out "$TMP/ksref"
$CS cnn $KS --out "$TMP/ks" 2>/dev/null &
pid=$!
i=0
while [ ! -f "$TMP/ks/checkpoint.bin" ] && [ $i -lt 400 ]; do sleep 0.02; i=$((i + 1)); done
sleep 0.3
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
[ ! -f "$TMP/ks/final.dat" ] && ok || echo "test_cli_cnn: note: the snapshot run finished before it could be killed"
expect_exit 0 ksnap-resume $CS cnn $KS --resume --out "$TMP/ks"
for f in map_a.npy map_b.npy sv_a.npy sv_b.npy U.npy s.npy V.npy index.dat; do
  cmp -s "$TMP/ksref/snap/$f" "$TMP/ks/snap/$f" && ok || bad "kill/resume: snap/$f differs from the uninterrupted run"
done
[ "$(grep -v '^#' "$TMP/ksref/fisher.dat")" = "$(grep -v '^#' "$TMP/ks/fisher.dat")" ] && ok || bad "kill/resume: fisher.dat differs"
[ "$(cols "$TMP/ksref/epochs.dat")" = "$(cols "$TMP/ks/epochs.dat")" ] && ok || bad "kill/resume with snapshots: epochs.dat differs"
# resuming with other snapshot options is refused
expect_exit 2 ksnap-other $CS cnn $KS --epochs 5 --snap-every 1 --probe 32 --resume --out "$TMP/ks"

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
