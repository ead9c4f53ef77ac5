# plots/cp_act.mk - the ICLR 2024 nonlinear check (issue: critical periods in nonlinear networks,
# experiment 5): critsim flow with ReLU / tanh pathways (models/cp_act.ini, depths 1-6, early / middle /
# late gate on b and a deficit-free control, three seeds, about 2 minutes on two cores) next to the
# linear prediction of critsim modes (models/cp_gate.ini, the sweep of plots/sweep.mk).
#   make results/figures/cp_act.png
# Paths are spelled out (not taken from plots/sweep.mk's variables): make expands targets and
# prerequisites when it reads this file, possibly before sweep.mk.
CPA_SUM := $(RESULTS)/sweep/cp_act/summary_seeds.dat
CPA_LIN := $(RESULTS)/sweep/cp_gate/summary.dat
FIGURES += $(RESULTS)/figures/cp_act.png $(RESULTS)/figures/cp_act.pdf

.PRECIOUS: $(CPA_SUM)
$(CPA_SUM): models/cp_act.ini $(BIN)
	rm -rf $(RESULTS)/sweep/cp_act
	OPENBLAS_NUM_THREADS=1 ./$(BIN) sweep --model models/cp_act.ini --out $(RESULTS)/sweep/cp_act

$(RESULTS)/figures/cp_act.png $(RESULTS)/figures/cp_act.pdf: $(CPA_SUM) $(CPA_LIN) plots/cp_act.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f='$(CPA_SUM)'; g='$(CPA_LIN)'; out='$@'" plots/cp_act.gp

# the paper's section on the nonlinear check quotes summary_seeds.dat and shows a small copy
paper: paper/figures/cp_act.png
paper/critsim.md: $(CPA_SUM)
paper/figures/cp_act.png: $(CPA_SUM) $(CPA_LIN) plots/cp_act.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f='$(CPA_SUM)'; g='$(CPA_LIN)'; psz=$(PAPER_PSZ); out='$@'" plots/cp_act.gp
