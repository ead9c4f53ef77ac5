# plots/cnn.mk - CNN critical-period figure (models/cnn_blur.ini, models/cnn_split_blur.ini -> plots/cnn.gp).
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
