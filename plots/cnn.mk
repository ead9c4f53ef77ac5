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
#                  4x4, vertical flip, label permutation, noise images; t0 = 4, 8, 12) with 16 clean epochs
#                  after it, fused W8 D2 net, 5000 Fashion-MNIST images, 3 seeds, and the deficit-free
#                  controls of 16 and 28 epochs (models/cnn_cp_deficits.ini; summary_seeds.dat ->
#                  plots/cnn_cp_deficits.awk -> curves.dat -> plots/cnn_cp_deficits.gp).  About 45 minutes
#                  on two cores.  Resumable: a killed run continues where it stopped; the finished points
#                  are discarded when the build id (build/buildid.h: a hash of the sources) changed.
#                  `make check-science` runs it and asserts the effects measured robust across seeds.
CP_DEF     := $(RESULTS)/sweep/cnn_cp_deficits
CP_DEF_JOBS ?= 2
FIGURES    += $(RESULTS)/figures/cnn_cp_deficits.png $(RESULTS)/figures/cnn_cp_deficits.pdf

.PRECIOUS: $(CP_DEF)/summary_seeds.dat $(CP_DEF)/curves.dat
$(CP_DEF)/summary_seeds.dat: models/cnn_cp_deficits.ini $(BIN)
	@mkdir -p $(dir $@)
	@cmp -s $(BUILD)/buildid.h $(dir $@)buildid.h || { rm -rf $(dir $@)points $(dir $@)summary*.dat; cp $(BUILD)/buildid.h $(dir $@)buildid.h; }
	OPENBLAS_NUM_THREADS=1 ./$(BIN) sweep --model models/cnn_cp_deficits.ini --jobs $(CP_DEF_JOBS) --out $(dir $@)
$(CP_DEF)/curves.dat: $(CP_DEF)/summary_seeds.dat models/cnn_cp_deficits.ini plots/cnn_cp_deficits.awk
	awk -v clean=$$(sed -n 's/^clean-epochs *= *//p' models/cnn_cp_deficits.ini) -f plots/cnn_cp_deficits.awk $< > $@.tmp || { rm -f $@.tmp; exit 1; }
	mv $@.tmp $@
$(RESULTS)/figures/cnn_cp_deficits.png $(RESULTS)/figures/cnn_cp_deficits.pdf: $(CP_DEF)/curves.dat plots/cnn_cp_deficits.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f='$<'; out='$@'" plots/cnn_cp_deficits.gp
