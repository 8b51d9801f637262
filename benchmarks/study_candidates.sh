# The representation study's candidates (docs/pretraining.md, "Representation study" and its
# amendments): the `polysrl pretrain` flags of each id, added to the common settings.
# Sourced by benchmarks/gpu/study.sh and benchmarks/study_cpu.sh; needs MP_GAPS (mp-non-metals.csv)
# and, for C33 and C34, MP_E_FORM (CrabNet's Matbench mp_e_form.csv).
SPECIES="--structure-encoder species_graph_network_frozen"
C4="$SPECIES --decorrelation 1.0 --element-skip"
GAPS="--property-table $MP_GAPS --composition-column composition --target-column band_gap"
C13="--structure-encoder chgnet --element-skip --element-features both"
C14="$C13 --multitask-weight 0.1 $GAPS"
# amendment 11: a second head, the MP DFT formation energy (lowest entry per formula)
GAPS_E_FORM="--property-table $MP_GAPS $MP_E_FORM --composition-column composition formula
  --target-column band_gap target --target-reduce mean min"
C33="$C13 --multitask-weight 0.1 $GAPS_E_FORM"
declare -A RUNS=(
  [C1]="--structure-encoder graph_network_frozen"
  [C2]="$SPECIES"
  [C3]="$SPECIES --decorrelation 1.0"
  [C4]="$C4"
  [C5]="$C4 --element-features both"
  [C6]="$C4 --polymorph-spread 1.0 --beta 1e-4"
  [C7]="$C4 --positive-weight 255"
  [C8]="$C4 --multitask-weight 0.1 $GAPS"
  [C9]="$C4 --lr-schedule cosine"
  [C10]="$C4 --hidden-dim 64"
  [C11]="--structure-encoder chgnet --decorrelation 1.0 --element-skip"
  [C12]="--structure-encoder chgnet --element-skip"
  [C13]="$C13"
  [C14]="$C14"
  [C15]="$C13 --polymorph-spread 1.0 --beta 1e-4"
  [C16]="$C14 --beta 1e-3"
  [C17]="$C14 --beta 1e-2"
  [C18]="$C14 --variance-matching 1.0"
  [C19]="$C14 --variance-matching 0.1"
  # amendment 4: a variance stage on C14 (its full checkpoint at ${RUNS_DIR:-runs}/C14.ckpt); this --epochs wins
  [C20]="$C14 --variance-matching 1.0 --init-from ${RUNS_DIR:-runs}/C14.ckpt --train-only variance_head --epochs 10"
  [C21]="$C14 --variance-matching 0.1 --init-from ${RUNS_DIR:-runs}/C14.ckpt --train-only variance_head --epochs 10"
  [C22]="$C14 --variance-matching 1.0 --init-from ${RUNS_DIR:-runs}/C14.ckpt --train-only variance_head --epochs 40"
  [C23]="$C14 --variance-matching 100 --init-from ${RUNS_DIR:-runs}/C14.ckpt --train-only variance_head --epochs 10"
  # amendment 6: the variance stage of C22 with polymorphs counted in its target
  [C24]="$C14 --variance-matching 1.0 --variance-count 1 --init-from ${RUNS_DIR:-runs}/C14.ckpt --train-only variance_head --epochs 40"
  [C25]="$C14 --variance-matching 1.0 --variance-count 10 --init-from ${RUNS_DIR:-runs}/C14.ckpt --train-only variance_head --epochs 40"
  # amendment 7: C25's stage plus synthetic doped/alloyed mixtures in the variance target
  [C26]="$C14 --variance-matching 1.0 --variance-count 10 --variance-mixtures 1.0 --init-from ${RUNS_DIR:-runs}/C14.ckpt --train-only variance_head --epochs 40"
  [C27]="$C14 --variance-matching 1.0 --variance-count 10 --variance-mixtures 0.3 --init-from ${RUNS_DIR:-runs}/C14.ckpt --train-only variance_head --epochs 40"
  # amendment 8: C27's stage with the starting network's own log-variance added to every variance target
  [C28]="$C14 --variance-matching 1.0 --variance-count 10 --variance-mixtures 0.3 --variance-anchor 1.0 --init-from ${RUNS_DIR:-runs}/C14.ckpt --train-only variance_head --epochs 40"
  [C29]="$C14 --variance-matching 1.0 --variance-count 10 --variance-mixtures 0.3 --variance-anchor 2.0 --init-from ${RUNS_DIR:-runs}/C14.ckpt --train-only variance_head --epochs 40"
  # amendment 9: C14's first stage with a weak anti-collapse term on the batch's mean vectors
  [C30]="$C14 --decorrelation 0.1"
  [C31]="$C14 --decorrelation 0.01"
  # amendment 10: the weight between C30's and C31's
  [C32]="$C14 --decorrelation 0.02"
  # amendment 11: C14 plus a formation-energy head, and that with C31's decorrelation weight
  [C33]="$C33"
  [C34]="$C33 --decorrelation 0.01"
  # amendment 11: the default's variance stage (C28's flags) on whichever of C33/C34 is selected
  [C35]="$C33 --variance-matching 1.0 --variance-count 10 --variance-mixtures 0.3 --variance-anchor 1.0 --init-from ${RUNS_DIR:-runs}/C33.ckpt --train-only variance_head --epochs 40"
  [C36]="$C33 --decorrelation 0.01 --variance-matching 1.0 --variance-count 10 --variance-mixtures 0.3 --variance-anchor 1.0 --init-from ${RUNS_DIR:-runs}/C34.ckpt --train-only variance_head --epochs 40"
  # amendment 13: C36's stage with C14's log-variance as the anchor (the shipped polysrl_chgnet_mt file)
  [C37]="$C33 --decorrelation 0.01 --variance-matching 1.0 --variance-count 10 --variance-mixtures 0.3 --variance-anchor 1.0 --anchor-from ${ANCHOR_MODEL:-polysrl_sklearn/pretrained/polysrl_chgnet_mt.pt} --init-from ${RUNS_DIR:-runs}/C34.ckpt --train-only variance_head --epochs 40"
  # amendment 14: a structure-free variance stage of the default (C14 + C28's model file) towards the
  # band-gap head's own errors; only the stoichiometry encoder of the file is read
  [C38]="$C13 $GAPS --objective error_variance --variance-error 0.25 --variance-mixtures 0.3 --init-from ${STAGE_START:-polysrl_sklearn/pretrained/polysrl_chgnet_mt_anchored.pt} --train-only variance_head --epochs 20"
  [C39]="$C13 $GAPS --objective error_variance --variance-error 0.5 --variance-mixtures 0.3 --init-from ${STAGE_START:-polysrl_sklearn/pretrained/polysrl_chgnet_mt_anchored.pt} --train-only variance_head --epochs 20"
  # amendment 15: C14's first stage with a head that reconstructs the formulas' Magpie statistics
  [C40]="$C14 --element-statistics 0.1"
  [C41]="$C14 --element-statistics 1.0"
  # amendment 15: the default's two variance stages on the selected one of C40/C41 ($WINNER, its full
  # checkpoint at ${RUNS_DIR:-runs}/$WINNER.ckpt): C28's stage anchored to C14's uncertainty (as C37),
  # then C39's structure-free stage on that stage's model file
  [C42]="$C14 --element-statistics ${WINNER_WEIGHT:-0.1} --variance-matching 1.0 --variance-count 10 --variance-mixtures 0.3 --variance-anchor 1.0 --anchor-from ${ANCHOR_MODEL:-polysrl_sklearn/pretrained/polysrl_chgnet_mt.pt} --init-from ${RUNS_DIR:-runs}/${WINNER:-C40}.ckpt --train-only variance_head --epochs 40"
  [C43]="$C13 $GAPS --objective error_variance --variance-error 0.5 --variance-mixtures 0.3 --init-from ${RUNS_DIR:-runs}/C42.pt --train-only variance_head --epochs 20"
  # amendment 16: C14's first stage with the Magpie statistics on the mean vector's first 132 coordinates
  [C44]="$C14 --element-statistics 1.0 --element-statistics-head coordinates"
  [C45]="$C14 --element-statistics 0.1 --element-statistics-head coordinates"
  # amendment 18: the coordinates head between C44's and C45's weights
  [C49]="$C14 --element-statistics 0.3 --element-statistics-head coordinates"
  # amendment 16: the default's two variance stages on the selected one of C44/C45 ($WINNER, $WINNER_WEIGHT),
  # as C42 and C43 on C41
  [C46]="$C14 --element-statistics ${WINNER_WEIGHT:-1.0} --element-statistics-head coordinates --variance-matching 1.0 --variance-count 10 --variance-mixtures 0.3 --variance-anchor 1.0 --anchor-from ${ANCHOR_MODEL:-polysrl_sklearn/pretrained/polysrl_chgnet_mt.pt} --init-from ${RUNS_DIR:-runs}/${WINNER:-C44}.ckpt --train-only variance_head --epochs 40"
  [C47]="$C13 $GAPS --objective error_variance --variance-error 0.5 --variance-mixtures 0.3 --init-from ${RUNS_DIR:-runs}/C46.pt --train-only variance_head --epochs 20"
  # amendment 18: the default's two variance stages on C49 (W = 0.3), as C46 and C47 on C45
  [C50]="$C14 --element-statistics 0.3 --element-statistics-head coordinates --variance-matching 1.0 --variance-count 10 --variance-mixtures 0.3 --variance-anchor 1.0 --anchor-from ${ANCHOR_MODEL:-polysrl_sklearn/pretrained/polysrl_chgnet_mt.pt} --init-from ${RUNS_DIR:-runs}/C49.ckpt --train-only variance_head --epochs 40"
  [C51]="$C13 $GAPS --objective error_variance --variance-error 0.5 --variance-mixtures 0.3 --init-from ${RUNS_DIR:-runs}/C50.pt --train-only variance_head --epochs 20"
  # amendment 19: C51's stage with the error floor at 0.01 (0.1 eV), at error weights 0.5 and 0.75
  [C52]="$C13 $GAPS --objective error_variance --variance-error 0.5 --variance-error-floor 0.01 --variance-mixtures 0.3 --init-from ${RUNS_DIR:-runs}/C50.pt --train-only variance_head --epochs 20"
  [C53]="$C13 $GAPS --objective error_variance --variance-error 0.75 --variance-error-floor 0.01 --variance-mixtures 0.3 --init-from ${RUNS_DIR:-runs}/C50.pt --train-only variance_head --epochs 20"
  # amendment 17: C47's structure-free stage with a larger error weight, on C46's model file
  [C48]="$C13 $GAPS --objective error_variance --variance-error 0.75 --variance-mixtures 0.3 --init-from ${RUNS_DIR:-runs}/C46.pt --train-only variance_head --epochs 20"
  # the four baselines, retrained with the selected candidate's flags: only the objective differs
  # (docs/pretraining.md, "Baseline models")
  [baseline_polysrl_nosample]="$C14 --objective polysrl_nosample"
  [baseline_infomax]="$C14 --objective infomax"
  [baseline_graphcl]="$C14 --objective graphcl"
  [baseline_supervised]="$C14 --objective supervised"
  # the default's (C41's) no-sampling ablation: the element-statistics term is one of the soft contrastive
  # loss, so of the four baselines only this one differs between recipes chgnet_mt and chgnet_mt_elements
  [baseline_polysrl_nosample_elements]="$C14 --element-statistics 1.0 --objective polysrl_nosample"
)
