#!/usr/bin/env bash
# Repeats the last training stage of the shipped models: each fine-tunes the shipped model of the same
# name for EPOCHS more epochs with `studio train`'s defaults
# (cbam: the spatial gate nearest the output supervised by the mask; a base without the decoder gate gains one), one run at a time with one data-parallel thread
# per core (the trainer picks its test-time flips on the validation split), then calibrates its thresholds
# on the validation split with those flips and evaluates it on its test split.
# Each card records its whole history (hyperparameters.base and baseTraining, down to the first run).
# Usage: scripts/train-shipped.sh [EPOCHS] [NAME ...]   (runs into .studio/train/NAME; copy to models/ by hand)
# ATTENTION_WEIGHT (default: studio train's), LR (default 1e-3; 5e-4 for a -neg model) and AUGMENT
# (standard|strong|overlays|devices, default standard; overlays for a -neg model) set the supervision weight,
# the peak rate and the augmentation preset.
# A name ending in -neg (kvasir-cbam-neg, kvasir-baseline-256-neg) also trains, calibrates and is scored with
# HyperKvasir's lesion-free frames ($data/hyperkvasir-normal), with the rate and preset those models were
# fine-tuned with; they ran 10 epochs (`scripts/train-shipped.sh 10 kvasir-baseline-256-neg`; docs/experiments.md).
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-20}; shift || true
data=${STUDIO_DATA_DIR:-../shared/data}
names=("$@"); [ ${#names[@]} -gt 0 ] || names=(kvasir-cbam busi-cbam kvasir-baseline busi-baseline kvasir-cbam-256 kvasir-baseline-256)
for name in "${names[@]}"; do
  # SET-VARIANT[-SIZE]: kvasir-cbam-256 is cbam on Kvasir at 256² (192² without a size)
  stem="${name%-neg}"; negatives=(); augment="${AUGMENT:-}"; lr="${LR:-1e-3}"
  if [[ "$stem" != "$name" ]]; then negatives=(--negatives "$data/hyperkvasir-normal"); augment="${AUGMENT:-overlays}"; lr="${LR:-5e-4}"; fi
  set="${stem%%-*}"; rest="${stem#*-}"; variant="${rest%%-*}"; size=192
  [[ "$rest" == *-* ]] && size="${rest##*-}"
  base="models/$name"
  out=".studio/train/$name"
  echo "== $name: $variant at ${size}² on $data/$set${negatives[*]:+ with lesion-free frames} from $base, $epochs epochs"
  npx studio train --data "$data/${set/kvasir/kvasir-seg}" ${negatives[@]+"${negatives[@]}"} --variant "$variant" --epochs "$epochs" --input-size "$size" \
    --batch 8 --lr "$lr" ${ATTENTION_WEIGHT:+--attention-weight "$ATTENTION_WEIGHT"} ${augment:+--augment "$augment"} --workers "$(nproc)" --base "$base" --name "$name" --out "$out"
  npx studio evaluate --model "$out" --data "$data/${set/kvasir/kvasir-seg}" ${negatives[@]+"${negatives[@]}"} --split val --calibrate --out "$out/report-val.json"
  npx studio evaluate --model "$out" --data "$data/${set/kvasir/kvasir-seg}" ${negatives[@]+"${negatives[@]}"} --split test --out "$out/report.json"
done
