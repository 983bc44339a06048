# The rows of the issue-25 studies, in one place: sourced by start/run.sh, equal_steps/run.sh
# and gpu.sh. Each Proposed variant writes its optimiser out in full, so a row does not change
# when the shipped jointsr_paper does.

# proposed_optimiser VARIANT: the optimiser overrides of one Proposed variant (../start/ names)
#   before:        Adam on every raw weight, no ramp (the paper's optimiser)
#   after:         Adam, every conv weight at lr / sqrt(fan_in) (equalized rates), a 20-step ramp
#                  (the first start fix, shipped until 2026-12-07)
#   raw_ramp100:   Adam on every raw weight, a 100-step linear ramp
#   radam:         RAdam on every raw weight, no ramp
#   radam_ramp100: RAdam on every raw weight, a 100-step ramp (the shipped jointsr_paper)
proposed_optimiser() {
  case $1 in
    before) echo "model.net.equalized_lr=false model.warmup_steps=0 model.optimizer._target_=torch.optim.Adam" ;;
    after) echo "model.net.equalized_lr=true model.warmup_steps=20 model.optimizer._target_=torch.optim.Adam" ;;
    raw_ramp100) echo "model.net.equalized_lr=false model.warmup_steps=100 model.optimizer._target_=torch.optim.Adam" ;;
    radam) echo "model.net.equalized_lr=false model.warmup_steps=0 model.optimizer._target_=torch.optim.RAdam" ;;
    radam_ramp100) echo "model.net.equalized_lr=false model.warmup_steps=100 model.optimizer._target_=torch.optim.RAdam" ;;
    *) echo "unknown Proposed variant '$1' (before, after, raw_ramp100, radam, radam_ramp100)" >&2; return 2 ;;
  esac
}

# equal_step_row MODEL: the overrides of one row of equal_steps/ and gpu/. Proposed in bf16
# mixed precision (jointsr_paper_fp32: the fp32 check), the baselines in the NHWC layout,
# JointSR-fast with its own recipe (Adam 1e-3, 50-step warm-up, cosine over the budget).
equal_step_row() {
  local proposed
  case $1 in
    jointsr_paper) proposed="trainer.precision=bf16-mixed $(proposed_optimiser after)" ;;
    jointsr_paper_fp32) proposed="trainer.precision=32-true $(proposed_optimiser after)" ;;
    jointsr_paper_raw) proposed="trainer.precision=bf16-mixed $(proposed_optimiser before)" ;;
    jointsr_paper_radam) proposed="trainer.precision=bf16-mixed $(proposed_optimiser radam)" ;;
    jointsr_paper_radam_ramp) proposed="trainer.precision=bf16-mixed $(proposed_optimiser radam_ramp100)" ;;
    lmcsc|djf|coista) echo "model=$1 model.channels_last=true"; return ;;
    jointsr) echo "model=jointsr model.optimizer.lr=1e-3 model.scheduler={_target_:jointsr.training.module.warmup_cosine,_partial_:true,warmup_steps:50}"; return ;;
    *) echo "unknown model '$1' (jointsr_paper, jointsr_paper_fp32, jointsr_paper_raw, jointsr_paper_radam, jointsr_paper_radam_ramp, lmcsc, djf, coista, jointsr)" >&2; return 2 ;;
  esac
  echo "model=jointsr_paper $proposed"
}
