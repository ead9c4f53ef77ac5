#!/bin/sh
# test_cli_data.sh - data files given to `critsim cnn` are validated: a missing, truncated, corrupted or
# mismatched Fashion-MNIST file gives exit status 2 and one stderr line naming the file and the problem.
# The files are written here (printf + gzip), a few KB.  Skipped (0 checks) until `critsim cnn` exists.
. tests/lib.sh
if ! "$CS" cnn --help >/dev/null 2>&1; then
  echo "note: critsim cnn not available; data CLI checks skipped"; done_checks test_cli_data; exit $?
fi
# idx_images DIR PREFIX N [MAGIC_OCTAL] [PAYLOAD_BYTES]: N 28x28 images (payload defaults to N*784 bytes)
be32() { printf "\\$(printf %03o $(($1 >> 24 & 255)))\\$(printf %03o $(($1 >> 16 & 255)))\\$(printf %03o $(($1 >> 8 & 255)))\\$(printf %03o $(($1 & 255)))"; }
idx_images() {
  { printf '\000\000\010'"${4:-\\003}"; be32 "$3"; be32 28; be32 28; head -c "${5:-$(($3 * 784))}" /dev/urandom; } | gzip -c >"$1/$2-images-idx3-ubyte.gz"
}
# idx_labels DIR PREFIX N [LABEL_COUNT_IN_HEADER] [BAD]: labels i % 10 (BAD=1: last label 200)
idx_labels() {
  { printf '\000\000\010\001'; be32 "${4:-$3}"; i=0; while [ $i -lt "$3" ]; do
      if [ "${5:-0}" = 1 ] && [ $i -eq $(($3 - 1)) ]; then printf '\310'; else printf "\\$(printf %03o $((i % 10)))"; fi
      i=$((i + 1)); done; } | gzip -c >"$1/$2-labels-idx1-ubyte.gz"
}
mk() { d="$TMP/$1"; mkdir -p "$d"; idx_images "$d" t10k 20; idx_labels "$d" t10k 20; echo "$d"; }
run_cnn() { "$CS" cnn --data fashion-mnist --data-dir "$1" --epochs 1 --seed 1 --out "$TMP/run"; }

d=$(mk good); idx_images "$d" train 64; idx_labels "$d" train 64
d=$(mk magic); idx_images "$d" train 64 '\004'; idx_labels "$d" train 64
expect_exit 2 "bad magic" run_cnn "$d"
expect_grep "bad magic names the file" 'train-images-idx3-ubyte.gz.*magic' "$TMP/err"
d=$(mk trunc); idx_images "$d" train 64 '\003' 1000; idx_labels "$d" train 64
expect_exit 2 "truncated images" run_cnn "$d"
expect_grep "truncated names the file" 'train-images-idx3-ubyte.gz.*truncated' "$TMP/err"
d=$(mk mismatch); idx_images "$d" train 64; idx_labels "$d" train 60 60
expect_exit 2 "mismatched counts" run_cnn "$d"
expect_grep "mismatch names both files" 'train-labels-idx1-ubyte.gz.*train-images-idx3-ubyte.gz' "$TMP/err"
d=$(mk label); idx_images "$d" train 64; idx_labels "$d" train 64 64 1
expect_exit 2 "label out of range" run_cnn "$d"
expect_grep "label range names the file" 'train-labels-idx1-ubyte.gz.*out of range' "$TMP/err"
d=$(mk gzbad); printf 'this is not gzip but not IDX either' | gzip -c | head -c 20 >"$d/train-images-idx3-ubyte.gz"; idx_labels "$d" train 64
expect_exit 2 "corrupted gzip" run_cnn "$d"
expect_grep "corrupted names the file" 'train-images-idx3-ubyte.gz' "$TMP/err"
expect_exit 2 "missing directory" run_cnn "$TMP/no-such-dir"
expect_grep "missing file names the fix" 'dataset-fashion-mnist' "$TMP/err"
done_checks test_cli_data
