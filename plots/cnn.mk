# plots/cnn.mk - CNN critical-period figures: cnn_cp (models/cnn_blur.ini, models/cnn_split_blur.ini ->
# plots/cnn.gp) and cnn_cp_deficits (below).
#
#   cnn_cp   final test accuracy vs the end of an early blur deficit: fused net (whole image) and split
#            net (source b only), Fashion-MNIST subset of 10000 images, blur on [0, END) then 12 clean epochs, 7 runs each
#
# Sweeps run into $(RESULTS)/sweep/NAME from scratch when the model file or the binary changed; about
# 20 minutes on 2 cores (7 runs x END + 12 epochs per sweep).  One figure: make results/figures/cnn_cp.png
CNN_SWEEPS := cnn_blur cnn_split_blur
FIGURES    += $(RESULTS)/figures/cnn_cp.png $(RESULTS)/figures/cnn_cp.pdf

.PRECIOUS: $(CNN_SWEEPS:%=$(RESULTS)/sweep/%/summary.dat)
$(CNN_SWEEPS:%=$(RESULTS)/sweep/%/summary.dat): $(RESULTS)/sweep/%/summary.dat: models/%.ini $(BIN)
	rm -rf $(RESULTS)/sweep/$*
	OPENBLAS_NUM_THREADS=1 ./$(BIN) sweep --model models/$*.ini --out $(RESULTS)/sweep/$*

$(RESULTS)/figures/cnn_cp.png $(RESULTS)/figures/cnn_cp.pdf: $(CNN_SWEEPS:%=$(RESULTS)/sweep/%/summary.dat) plots/cnn.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f1='$(RESULTS)/sweep/cnn_blur/summary.dat'; f2='$(RESULTS)/sweep/cnn_split_blur/summary.dat'; out='$@'" plots/cnn.gp

# cnn_cp_deficits  issue 11, experiment 1: final test accuracy vs the end t0 of an early deficit (blur to
#                  4x4, vertical flip, label permutation, noise images; t0 = 2, 4, 6, 8, 12) with 12 clean
#                  epochs after it, fused W8 D2 net, 5000 Fashion-MNIST images, 3 seeds, and the
#                  deficit-free controls of 12 and 24 epochs (models/cnn_cp_deficits.ini; summary_seeds.dat ->
#                  plots/cnn_cp_deficits.awk -> curves.dat -> plots/cnn_cp_deficits.gp).  About 1400
#                  single-thread core-seconds (12 minutes on two cores).  Resumable: a killed run
#                  continues where it stopped; the finished points are discarded when the build id
#                  (build/buildid.h: a hash of the sources) changed.  `make check-science` runs it and
#                  asserts the effects measured robust across seeds.
CP_DEF     := $(RESULTS)/sweep/cnn_cp_deficits
CP_DEF_JOBS ?= 2
CP_CLEAN    = $$(sed -n 's/^clean-epochs *= *//p' models/cnn_cp_deficits.ini)
FIGURES    += $(RESULTS)/figures/cnn_cp_deficits.png $(RESULTS)/figures/cnn_cp_deficits.pdf

.PRECIOUS: $(CP_DEF)/summary_seeds.dat $(CP_DEF)/curves.dat
$(CP_DEF)/summary_seeds.dat: models/cnn_cp_deficits.ini $(BIN)
	@mkdir -p $(dir $@)
	@cmp -s $(BUILD)/buildid.h $(dir $@)buildid.h || { rm -rf $(dir $@)points $(dir $@)summary*.dat; cp $(BUILD)/buildid.h $(dir $@)buildid.h; }
	OPENBLAS_NUM_THREADS=1 ./$(BIN) sweep --model models/cnn_cp_deficits.ini --jobs $(CP_DEF_JOBS) --out $(dir $@)
$(CP_DEF)/curves.dat: $(CP_DEF)/summary_seeds.dat models/cnn_cp_deficits.ini plots/cnn_cp_deficits.awk
	awk -v clean=$(CP_CLEAN) -f plots/cnn_cp_deficits.awk $< > $@.tmp || { rm -f $@.tmp; exit 1; }
	mv $@.tmp $@
$(RESULTS)/figures/cnn_cp_deficits.png $(RESULTS)/figures/cnn_cp_deficits.pdf: $(CP_DEF)/curves.dat plots/cnn_cp_deficits.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f='$<'; clean=$(CP_CLEAN); out='$@'" plots/cnn_cp_deficits.gp

# cnn_cp_restart   issue 11, experiment 6 on experiment 1: the same blur and flip deficits with the
#                  learning rate restarted at lr0 when the deficit ends (models/cnn_cp_restart.ini, about
#                  780 core-seconds; rerun like cnn_cp_deficits when the build changes: make
#                  check-science asserts on it).  Figure: accuracy lost vs t0, paired by seed with the
#                  12-epoch deficit-free run, both schedules (plots/cnn_paired.awk -> paired.dat ->
#                  plots/cnn_cp_restart.gp).
# cnn_cp_depth, cnn_cp_split  experiment 3: the blur protocol at fused depth 1, 3 (2: cnn_cp_deficits)
#                  and on the split network with 0, 1, 2 stages before fusion (about 620 and 1100
#                  core-seconds); paired with the 24-epoch control (paired.dat, paired_24.dat) ->
#                  plots/cnn_cp_depth.gp.
# cnn_cp_window    experiment 2: a 4-epoch blur window at onsets 0-12 within 20 epochs (about 600
#                  core-seconds), and cnn_cp_fisher: the Fisher trace of the deficit-free run (--full,
#                  about 80 core-seconds; plots/cnn_fisher.awk -> fisher_seeds.dat) -> plots/cnn_cp_window.gp.
# These sweeps resume and are not discarded when the build changes (rm -rf the folder to rerun them).
CP_MORE    := cnn_cp_depth cnn_cp_split cnn_cp_window
FIGURES    += $(foreach f,cnn_cp_restart cnn_cp_depth cnn_cp_window,$(RESULTS)/figures/$(f).png $(RESULTS)/figures/$(f).pdf)

.PRECIOUS: $(CP_MORE:%=$(RESULTS)/sweep/%/summary.dat) $(RESULTS)/sweep/cnn_cp_restart/summary.dat \
           $(RESULTS)/sweep/cnn_cp_fisher/summary.dat $(RESULTS)/sweep/%/paired.dat $(RESULTS)/sweep/%/paired_24.dat
$(RESULTS)/sweep/cnn_cp_restart/summary.dat: models/cnn_cp_restart.ini $(BIN)
	@mkdir -p $(dir $@)
	@cmp -s $(BUILD)/buildid.h $(dir $@)buildid.h || { rm -rf $(dir $@)points $(dir $@)summary*.dat; cp $(BUILD)/buildid.h $(dir $@)buildid.h; }
	OPENBLAS_NUM_THREADS=1 ./$(BIN) sweep --model models/cnn_cp_restart.ini --jobs $(CP_DEF_JOBS) --out $(dir $@)
$(CP_DEF)/summary.dat: $(CP_DEF)/summary_seeds.dat
$(CP_MORE:%=$(RESULTS)/sweep/%/summary.dat): $(RESULTS)/sweep/%/summary.dat: models/%.ini | $(BIN)
	OPENBLAS_NUM_THREADS=1 ./$(BIN) sweep --model models/$*.ini --jobs $(CP_DEF_JOBS) --out $(dir $@)
$(RESULTS)/sweep/cnn_cp_fisher/summary.dat: models/cnn_cp_fisher.ini | $(BIN)
	OPENBLAS_NUM_THREADS=1 ./$(BIN) sweep --model models/cnn_cp_fisher.ini --full --jobs $(CP_DEF_JOBS) --out $(dir $@)
$(RESULTS)/sweep/cnn_cp_fisher/fisher_seeds.dat: $(RESULTS)/sweep/cnn_cp_fisher/summary.dat plots/cnn_fisher.awk
	awk -f plots/cnn_fisher.awk $(dir $@)points/*/fisher.dat > $@.tmp || { rm -f $@.tmp; exit 1; }
	mv $@.tmp $@
# paired.dat: reference blur:4@0-0 (no deficit, 12 or 20 epochs) for deficits, restart and window;
# blur:4@12-12 (24 epochs) for depth and split (grouped) and paired_24.dat of cnn_cp_deficits
CP_REF = $(if $(filter cnn_cp_depth cnn_cp_split,$*),blur:4@12-12,blur:4@0-0)
CP_GRP = $(if $(filter cnn_cp_depth,$*),depth,$(if $(filter cnn_cp_split,$*),fuse-after,))
$(RESULTS)/sweep/%/paired.dat: $(RESULTS)/sweep/%/summary.dat plots/cnn_paired.awk
	awk -v ref='$(CP_REF)' -v group='$(CP_GRP)' -f plots/cnn_paired.awk $< > $@.tmp || { rm -f $@.tmp; exit 1; }
	mv $@.tmp $@
$(RESULTS)/sweep/%/paired_24.dat: $(RESULTS)/sweep/%/summary.dat plots/cnn_paired.awk
	awk -v ref='blur:4@12-12' -f plots/cnn_paired.awk $< > $@.tmp || { rm -f $@.tmp; exit 1; }
	mv $@.tmp $@
$(RESULTS)/figures/cnn_cp_restart.png $(RESULTS)/figures/cnn_cp_restart.pdf: $(CP_DEF)/paired.dat $(RESULTS)/sweep/cnn_cp_restart/paired.dat plots/cnn_cp_restart.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f1='$(word 1,$^)'; f2='$(word 2,$^)'; out='$@'" plots/cnn_cp_restart.gp
$(RESULTS)/figures/cnn_cp_depth.png $(RESULTS)/figures/cnn_cp_depth.pdf: $(RESULTS)/sweep/cnn_cp_depth/paired.dat $(CP_DEF)/paired_24.dat $(RESULTS)/sweep/cnn_cp_split/paired.dat plots/cnn_cp_depth.gp
	@mkdir -p $(dir $@)
	gnuplot -e "fd='$(word 1,$^)'; f2='$(word 2,$^)'; fs='$(word 3,$^)'; out='$@'" plots/cnn_cp_depth.gp
$(RESULTS)/figures/cnn_cp_window.png $(RESULTS)/figures/cnn_cp_window.pdf: $(RESULTS)/sweep/cnn_cp_window/paired.dat $(RESULTS)/sweep/cnn_cp_fisher/fisher_seeds.dat plots/cnn_cp_window.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f='$(word 1,$^)'; ff='$(word 2,$^)'; out='$@'" plots/cnn_cp_window.gp
