# plots/cnn_inh.mk - multisensory inhibition in the split CNN (issue 11 experiments 4, 6 and 7):
#
#   cnn_inh         experiment 4: source b removed on an early [0, L) or late [12, 12 + L) window, L = 2,
#                   4, 8, then 12 clean epochs, lr0 * 0.737^epoch (models/cnn_inh_remove.ini), blurred
#                   to 4 x 4 or dissociated (models/cnn_inh_blur.ini): final joint / b-alone accuracy,
#                   b-alone accuracy and the Jacobian share of b over epochs, RSV histograms
#   cnn_inh_restart experiment 6 on 4: the same with the learning rate restarted when the deficit ends
#                   (models/cnn_inh_restart.ini; without random zeroing: models/cnn_inh_norz.ini),
#                   beside the linear theory at constant learning rate (models/cp_end.ini)
#   cnn_inh_theory  experiment 7: share of b vs deficit length, linear (cp_end, depth 1 vs 4) beside
#                   the CNN (Jacobian share and b-alone accuracy, fuse-after 0, 1, 2; restart;
#                   models/cnn_inh_depth.ini and models/cnn_inh_restart.ini)
#
# Each sweep keeps every point's tables (full = true); `critsim analyze` runs on every point (the
# `analyzed` stamp), then plots/cnn_inh.awk writes final.dat, epochs.dat and rsv.dat in the sweep
# folder.  Sweeps resume (finished points are kept, also results copied from another machine; they
# are not rerun when the binary changes: delete the folder to rerun).  About 3900 single-thread
# core-seconds for the five sweeps (see the model files); INH_JOBS points in parallel.
INH       := cnn_inh_remove cnn_inh_restart cnn_inh_depth cnn_inh_blur cnn_inh_norz
INH_DIR   := $(RESULTS)/sweep
INH_JOBS  ?= 2
FIGURES   += $(foreach f,cnn_inh cnn_inh_restart cnn_inh_theory,$(RESULTS)/figures/$(f).png $(RESULTS)/figures/$(f).pdf)

.PRECIOUS: $(INH:%=$(INH_DIR)/%/summary_seeds.dat) $(INH:%=$(INH_DIR)/%/analyzed) \
           $(foreach s,$(INH),$(INH_DIR)/$(s)/final.dat $(INH_DIR)/$(s)/epochs.dat $(INH_DIR)/$(s)/rsv.dat)
$(INH:%=$(INH_DIR)/%/summary_seeds.dat): $(INH_DIR)/%/summary_seeds.dat: models/%.ini | $(BIN)
	@mkdir -p $(dir $@)
	OPENBLAS_NUM_THREADS=1 ./$(BIN) sweep --model models/$*.ini --jobs $(INH_JOBS) --out $(dir $@)
$(INH:%=$(INH_DIR)/%/analyzed): $(INH_DIR)/%/analyzed: $(INH_DIR)/%/summary_seeds.dat | $(BIN)
	for p in $(dir $@)points/*/; do ./$(BIN) analyze "$$p" > /dev/null || exit 1; done
	touch $@
# the deficit-free control at the same epoch (its epochs.dat row) only where the schedule makes one run
# the control of every length: the decay schedule of cnn_inh_remove
INH_CTRL = $(if $(filter cnn_inh_remove,$*),-v ctrl=remove:b@20-20,)
INH_FUSE = $(if $(filter cnn_inh_depth,$*),,-v fuse=1)
$(INH:%=$(INH_DIR)/%/final.dat): $(INH_DIR)/%/final.dat: $(INH_DIR)/%/analyzed plots/cnn_inh.awk
	awk -v dir=$(dir $@) -v what=final $(INH_FUSE) $(INH_CTRL) -f plots/cnn_inh.awk $(dir $@)grid.dat > $@.tmp || { rm -f $@.tmp; exit 1; }
	mv $@.tmp $@
$(INH:%=$(INH_DIR)/%/epochs.dat): $(INH_DIR)/%/epochs.dat: $(INH_DIR)/%/analyzed plots/cnn_inh.awk
	awk -v dir=$(dir $@) -v what=epochs $(INH_FUSE) -f plots/cnn_inh.awk $(dir $@)grid.dat > $@.tmp || { rm -f $@.tmp; exit 1; }
	mv $@.tmp $@
$(INH:%=$(INH_DIR)/%/rsv.dat): $(INH_DIR)/%/rsv.dat: $(INH_DIR)/%/analyzed plots/cnn_inh.awk
	awk -v dir=$(dir $@) -v what=rsv $(INH_FUSE) -f plots/cnn_inh.awk $(dir $@)grid.dat > $@.tmp || { rm -f $@.tmp; exit 1; }
	mv $@.tmp $@

INH_R := $(INH_DIR)/cnn_inh_remove
INH_B := $(INH_DIR)/cnn_inh_blur
INH_S := $(INH_DIR)/cnn_inh_restart
INH_N := $(INH_DIR)/cnn_inh_norz
INH_D := $(INH_DIR)/cnn_inh_depth
$(RESULTS)/figures/cnn_inh.png $(RESULTS)/figures/cnn_inh.pdf: $(INH_R)/final.dat $(INH_R)/epochs.dat $(INH_R)/rsv.dat $(INH_B)/final.dat $(INH_B)/rsv.dat plots/cnn_inh.gp
	@mkdir -p $(dir $@)
	gnuplot -e "fin='$(INH_R)/final.dat'; ep='$(INH_R)/epochs.dat'; rsv='$(INH_R)/rsv.dat'; bfin='$(INH_B)/final.dat'; brsv='$(INH_B)/rsv.dat'; out='$@'" plots/cnn_inh.gp
$(RESULTS)/figures/cnn_inh_restart.png $(RESULTS)/figures/cnn_inh_restart.pdf: $(INH_S)/final.dat $(INH_S)/epochs.dat $(INH_N)/final.dat $(RESULTS)/sweep/cp_end/summary.dat plots/cnn_inh_restart.gp
	@mkdir -p $(dir $@)
	gnuplot -e "fin='$(INH_S)/final.dat'; ep='$(INH_S)/epochs.dat'; nfin='$(INH_N)/final.dat'; lin='$(RESULTS)/sweep/cp_end/summary.dat'; out='$@'" plots/cnn_inh_restart.gp
$(RESULTS)/figures/cnn_inh_theory.png $(RESULTS)/figures/cnn_inh_theory.pdf: $(INH_D)/final.dat $(INH_S)/final.dat $(RESULTS)/sweep/cp_end/summary.dat plots/cnn_inh_theory.gp
	@mkdir -p $(dir $@)
	gnuplot -e "dfin='$(INH_D)/final.dat'; sfin='$(INH_S)/final.dat'; lin='$(RESULTS)/sweep/cp_end/summary.dat'; out='$@'" plots/cnn_inh_theory.gp
# the paper's small copies (plots/paper.mk lists them in PAPER_FIGS)
paper/figures/cnn_inh.png: $(INH_R)/final.dat $(INH_R)/epochs.dat $(INH_R)/rsv.dat $(INH_B)/final.dat $(INH_B)/rsv.dat plots/cnn_inh.gp
	gnuplot -e "fin='$(INH_R)/final.dat'; ep='$(INH_R)/epochs.dat'; rsv='$(INH_R)/rsv.dat'; bfin='$(INH_B)/final.dat'; brsv='$(INH_B)/rsv.dat'; psz=$(PAPER_PSZ); out='$@'" plots/cnn_inh.gp
paper/figures/cnn_inh_restart.png: $(INH_S)/final.dat $(INH_S)/epochs.dat $(INH_N)/final.dat $(RESULTS)/sweep/cp_end/summary.dat plots/cnn_inh_restart.gp
	gnuplot -e "fin='$(INH_S)/final.dat'; ep='$(INH_S)/epochs.dat'; nfin='$(INH_N)/final.dat'; lin='$(RESULTS)/sweep/cp_end/summary.dat'; psz=$(PAPER_PSZ); out='$@'" plots/cnn_inh_restart.gp
paper/figures/cnn_inh_theory.png: $(INH_D)/final.dat $(INH_S)/final.dat $(RESULTS)/sweep/cp_end/summary.dat plots/cnn_inh_theory.gp
	gnuplot -e "dfin='$(INH_D)/final.dat'; sfin='$(INH_S)/final.dat'; lin='$(RESULTS)/sweep/cp_end/summary.dat'; psz=$(PAPER_PSZ); out='$@'" plots/cnn_inh_theory.gp
