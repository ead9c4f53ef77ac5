# plots/sweep.mk - critical-period curves from `critsim sweep` (models/cp_*.ini -> plots/cp_*.gp).
#
#   cp_gate    final share of b per mode vs depth, b gated early / middle / late (ICLR 2024 Fig. 2 setup)
#   cp_lesion  the same with mode 1 of pathway a lesioned (Fig. 3 setup)
#   cp_end     final share of b vs the end of an early gate, depths 1-8 (320 runs)
#   cp_onset   final share of b vs the onset of a 50-update gate, depths 1-8 (320 runs)
#   cp_latent  latent two-source task (critsim flow): share of b and test loss vs redundancy
#   cp_latent_long  the same with 30000 updates (models/cp_latent_long.ini, plots/cp_latent.gp): is the
#              effect of the deficit permanent or only slow recovery?  (about a minute)
#
# Each sweep runs into $(RESULTS)/sweep/NAME from scratch whenever the model file or the binary changed
# (a resumed sweep reuses finished points, which is right after an interruption but not after an engine
# change); figures are PNG and PDF under $(RESULTS)/figures.  One figure: make results/figures/cp_end.png
SW_DIR   := $(RESULTS)/sweep
SW_NAMES := cp_gate cp_lesion cp_end cp_onset cp_latent
SW_PNG   := $(SW_NAMES:%=$(RESULTS)/figures/%.png)
SW_PDF   := $(SW_NAMES:%=$(RESULTS)/figures/%.pdf)
FIGURES  += $(SW_PNG) $(SW_PDF)

.PRECIOUS: $(SW_NAMES:%=$(SW_DIR)/%/summary.dat)
$(SW_NAMES:%=$(SW_DIR)/%/summary.dat): $(SW_DIR)/%/summary.dat: models/%.ini $(BIN)
	rm -rf $(SW_DIR)/$*
	OPENBLAS_NUM_THREADS=1 ./$(BIN) sweep --model models/$*.ini --out $(SW_DIR)/$*

$(SW_PNG): $(RESULTS)/figures/%.png: $(SW_DIR)/%/summary.dat plots/%.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f='$<'; out='$@'" plots/$*.gp

$(SW_PDF): $(RESULTS)/figures/%.pdf: $(SW_DIR)/%/summary.dat plots/%.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f='$<'; out='$@'" plots/$*.gp

# cp_latent_long: same grid as cp_latent, 30000 updates; drawn by plots/cp_latent.gp
FIGURES += $(RESULTS)/figures/cp_latent_long.png $(RESULTS)/figures/cp_latent_long.pdf
.PRECIOUS: $(SW_DIR)/cp_latent_long/summary.dat
$(SW_DIR)/cp_latent_long/summary.dat: models/cp_latent_long.ini $(BIN)
	rm -rf $(SW_DIR)/cp_latent_long
	OPENBLAS_NUM_THREADS=1 ./$(BIN) sweep --model models/cp_latent_long.ini --out $(SW_DIR)/cp_latent_long

$(RESULTS)/figures/cp_latent_long.png $(RESULTS)/figures/cp_latent_long.pdf: $(SW_DIR)/cp_latent_long/summary.dat plots/cp_latent.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f='$<'; out='$@'; steps=30000" plots/cp_latent.gp
