#!/usr/bin/env bash
# The inspect study: train the default and jointsr_paper briefly on CAVE x4 and RGB-NIR x4,
# inspect each on one test image, copy the figures and summaries here, measure the regions.
# One process at a time, one thread each (a shared 2-core machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
export JOINTSR_DATA_DIR=${JOINTSR_DATA_DIR:-/work/shared/data} OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
study=experiments/inspect
runs=logs/inspect

if [[ "${1:-}" == train ]]; then
  jointsr-train data=cave scale=x4 trainer.max_steps=600 trainer.val_check_interval=200 logger=csv test=false \
    hydra.run.dir=$runs/cave_default
  jointsr-train model=jointsr_paper data=cave scale=x4 trainer.max_steps=300 trainer.val_check_interval=150 \
    logger=csv test=false hydra.run.dir=$runs/cave_paper
  jointsr-train data=rgbnir scale=x4 trainer.max_steps=600 trainer.val_check_interval=200 logger=csv test=false \
    hydra.run.dir=$runs/rgbnir_default
  jointsr-train model=jointsr_paper data=rgbnir scale=x4 trainer.max_steps=300 trainer.val_check_interval=150 \
    logger=csv test=false hydra.run.dir=$runs/rgbnir_paper
fi

inspect() {  # <case> <run> <overrides...>: figures + summary into the study
  local case=$1 run=$2; shift 2
  jointsr-inspect ckpt_path=$runs/$run/checkpoints/last.ckpt dpi=80 hydra.run.dir=$runs/runs/$case "$@"
  mkdir -p $study/$case
  cp $runs/runs/$case/*.png $runs/runs/$case/inspect_summary.json $runs/runs/$case/steps_psnr.csv $study/$case/
}

# CAVE feathers: the whole 512 x 512 scene
inspect cave_feathers/default cave_default data=cave image=feathers
inspect cave_feathers/jointsr_paper cave_paper data=cave image=feathers
# RGB-NIR urban/0017: figures on a 512 x 512 crop (the conifer, the sky, the glass), numbers on the whole image
inspect nir_0017/default rgbnir_default data=rgbnir image=urban/0017 crop=512 crop_origin=[168,0]
inspect nir_0017/jointsr_paper rgbnir_paper data=rgbnir image=urban/0017 crop=512 crop_origin=[168,0]
for model in default:rgbnir_default jointsr_paper:rgbnir_paper; do
  jointsr-inspect ckpt_path=$runs/${model#*:}/checkpoints/last.ckpt data=rgbnir image=urban/0017 dpi=80 \
    hydra.run.dir=$runs/runs/nir_0017_whole/${model%%:*}
  cp $runs/runs/nir_0017_whole/${model%%:*}/inspect_summary.json $study/nir_0017/${model%%:*}/inspect_summary_whole_image.json
done

# coupling inside named regions (vegetation by NDVI, sky, coloured feathers) -> regions.json / regions.md
python $study/regions.py --runs $runs --out $study
