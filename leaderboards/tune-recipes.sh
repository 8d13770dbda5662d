#!/usr/bin/env bash
# The tuning sweep behind generators/recipes.toml (docs/results/recipes.md): each
# arch x head at its size-class width, trained on 24,000 images (cosine, seed 0) per learning
# rate, then scored on the validation set's 500 images. Resumable: run it again after a stop.
# Usage: leaderboards/tune-recipes.sh [OUT]   (results: OUT/val/*/evaluation.md)
set -u
out=${1:-runs/tune}
export STICKPOSE_DB=${STICKPOSE_DB:-sqlite:///$PWD/tune.sqlite}
declare -A width=([resnet]=24 [senet]=24 [mobilenetv2]=32 [inception]=32 [hourglass]=20 [unet]=6)
for arch in resnet senet mobilenetv2 inception hourglass unet; do
  for head in heatmap integral scalar; do
    rates="0.003 0.006"          # 0.001 lost to 0.003 in each of the first six cells
    if [ $arch = resnet ] || [ $arch-$head = senet-heatmap ] || [ $arch-$head = senet-integral ]; then
      rates="0.001 0.003 0.006"
    fi
    for lr in $rates; do
      run=$out/runs/$arch-$head-lr$lr
      if [ ! -f $run/evaluation.json ]; then
        resume=""; [ -f $run/config.json ] && resume="--resume"
        stickpose train --arch $arch --head $head --width ${width[$arch]} --input-size 64 \
          --learning-rate $lr --schedule cosine --epochs 6 --steps 125 --batch-size 32 \
          --patience 1000 --test-count 16 --out $run $resume || exit 1
      fi
      decoder=coordinates; [ $head = heatmap ] && decoder=quarter
      [ -f $out/val/$arch-$head-lr$lr/evaluation.csv ] || \
        stickpose evaluate $run --sets validation --decoders $decoder \
          --out $out/val/$arch-$head-lr$lr || exit 1
    done
  done
done
