#!/bin/bash
# Measures extraction rates and bytes for the README's "Datasets: time and disk" table. Synthetic photos sized like
# each dataset's; tiny DINOv3 ConvNeXt architecture with random weights (speed does not depend on the weights).
# Usage: bash scripts/measure_dataset_extraction.sh   (after `swift build -c release`; about 2 minutes on 2 cores)
set -e
B=${B:-.build/release}
M=$(mktemp -d); trap 'rm -rf "$M"' EXIT
$B/extract random-weights --size tiny --out $M/w >/dev/null
grep -m1 "model name" /proc/cpuinfo; grep -m1 "cpu family" /proc/cpuinfo; grep -m1 "^model\s" /proc/cpuinfo; nproc
for spec in "voc 400 500 voc" "ade20k 512 683 ade20k" "cityscapes 1024 2048 cityscapes"; do
  set -- $spec
  name=$1; lo=$2; hi=$3; layout=$4
  $B/extract synth --out $M/$name --layout $layout --train 48 --val 8 --seed 1 --min-side $lo --max-side $hi >/dev/null
  for prec in fp32 bf16; do
    /usr/bin/time -f "$name train $prec: %e s wall, %M KB peak" $B/extract train --data $M/$name --list train --weights $M/w --out $M/$name-train-$prec --precision $prec 2>&1 | grep -E "wrote|per sample|wall" 
    /usr/bin/time -f "$name val $prec: %e s wall, %M KB peak" $B/extract val --data $M/$name --list val --weights $M/w --out $M/$name-val-$prec --precision $prec 2>&1 | grep -E "wrote|per image|windows|wall"
  done
  du -sb $M/$name-train-fp32 $M/$name-val-fp32
done
