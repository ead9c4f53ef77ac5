# plots/linctl.mk - controls of the linear experiments (see the paper's sections L9 and 4):
#   cp_latent_recovery  latent two-source task: updates needed to recover from source b removed on
#                       [0, 2000), depths 1-4, redundancy 0.5/0.8/0.9, 3 seeds, each paired with its
#                       deficit-free control (models/cp_latent_recovery.ini, `critsim sweep --full`, then
#                       plots/recovery.awk -> recovery.dat; plots/cp_latent_recovery.gp); a few minutes
#   cp_generic          the Fig. 2 setup from a generic Gaussian initialisation, 5 seeds, each with and
#                       without the early gate of b, depths 1, 2, 4 (models/cp_generic.ini,
#                       plots/cp_generic.gp); under a minute
# The Fig. 1 deficit-free control and the Fig. 7 gradient-flow runs are in plots/modes.mk; the D = 1
# K(0) runs of section L9 in plots/paper.mk.  Paths are spelled out: this file is read before sweep.mk.
LC_NAMES := cp_latent_recovery cp_generic
FIGURES  += $(foreach n,$(LC_NAMES),$(RESULTS)/figures/$(n).png $(RESULTS)/figures/$(n).pdf)

.PRECIOUS: $(RESULTS)/sweep/cp_latent_recovery/recovery.dat $(RESULTS)/sweep/cp_generic/summary.dat
$(RESULTS)/sweep/cp_latent_recovery/recovery.dat: models/cp_latent_recovery.ini plots/recovery.awk $(BIN)
	rm -rf $(dir $@)
	OPENBLAS_NUM_THREADS=1 ./$(BIN) sweep --model models/cp_latent_recovery.ini --full --out $(dir $@)
	awk -v S=$(dir $@) -v by=end -v tol_share=0.01 -v tol_loss=0.01 -f plots/recovery.awk $(dir $@)grid.dat > $@.tmp || { rm -f $@.tmp; exit 1; }
	mv $@.tmp $@
$(RESULTS)/sweep/cp_generic/summary.dat: models/cp_generic.ini $(BIN)
	rm -rf $(dir $@)
	OPENBLAS_NUM_THREADS=1 ./$(BIN) sweep --model models/cp_generic.ini --out $(dir $@)

$(RESULTS)/figures/cp_latent_recovery.png $(RESULTS)/figures/cp_latent_recovery.pdf: $(RESULTS)/sweep/cp_latent_recovery/recovery.dat plots/cp_latent_recovery.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f='$<'; out='$@'" plots/cp_latent_recovery.gp
$(RESULTS)/figures/cp_generic.png $(RESULTS)/figures/cp_generic.pdf: $(RESULTS)/sweep/cp_generic/summary.dat plots/cp_generic.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f='$<'; out='$@'" plots/cp_generic.gp
