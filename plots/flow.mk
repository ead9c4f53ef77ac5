# plots/flow.mk - figures of `critsim flow`:
#   mc_switch   deep matrix completion, task switch rank 10 -> 5, switch step swept, depths 1-3, and the
#               singular values of the D = 3 map over time (models/mc_switch.ini, plots/mc.gp).
#   mc_factors  MC4: D = 3 with task-1 rank 2 instead of 10, and with 1000 instead of 2000 observed
#               entries, against the D = 3 baseline (plots/mc_factors.gp; two more D = 3 runs).
#   mc_sv       the same runs: top-10 singular values over time for D = 1, 2, 3 (plots/mc_sv.gp).
#   flow_fig3   ICLR 2024 Fig. 3 (gate + lesion) on full weight matrices (models/flow_fig3.ini).
#   flow_fig2   ICLR 2024 Fig. 2 on full weight matrices: K_a, K_b per mode vs update, b gated early,
#               middle, late (models/flow_fig2.ini, plots/flow_modes.gp); about a second in all.
# Each matrix-completion depth is one `critsim flow --switch-sweep` run (shared task-1 trunk, one branch per switch step):
# about 370k updates for D = 3 (a few minutes on one core).
MC_DIR  := $(RESULTS)/mc
MC_RUNS := $(MC_DIR)/d1/switch_sweep.dat $(MC_DIR)/d2/switch_sweep.dat $(MC_DIR)/d3/switch_sweep.dat
FIGURES += $(RESULTS)/figures/mc_switch.png $(RESULTS)/figures/mc_switch.pdf

.PRECIOUS: $(MC_RUNS)
$(MC_DIR)/d%/switch_sweep.dat: models/mc_switch.ini $(BIN)
	OPENBLAS_NUM_THREADS=1 ./$(BIN) flow --model models/mc_switch.ini --depth $* --out $(MC_DIR)/d$*

$(RESULTS)/figures/mc_switch.png $(RESULTS)/figures/mc_switch.pdf: $(MC_RUNS) plots/mc.gp
	@mkdir -p $(dir $@)
	gnuplot -e "dir='$(MC_DIR)'; out='$@'" plots/mc.gp

# MC4: D = 3 with a lower task-1 rank (r1 = 2) and with fewer observed entries (m = 1000), same
# switch steps; drawn with the D = 3 baseline (r1 = 10, m = 2000) by plots/mc_factors.gp
MC4_RUNS := $(MC_DIR)/d3_r2/switch_sweep.dat $(MC_DIR)/d3_m1000/switch_sweep.dat
FIGURES  += $(RESULTS)/figures/mc_factors.png $(RESULTS)/figures/mc_factors.pdf
.PRECIOUS: $(MC4_RUNS)
$(MC_DIR)/d3_r2/switch_sweep.dat: models/mc_switch.ini $(BIN)
	OPENBLAS_NUM_THREADS=1 ./$(BIN) flow --model models/mc_switch.ini --depth 3 --rank 2 --out $(MC_DIR)/d3_r2
$(MC_DIR)/d3_m1000/switch_sweep.dat: models/mc_switch.ini $(BIN)
	OPENBLAS_NUM_THREADS=1 ./$(BIN) flow --model models/mc_switch.ini --depth 3 --n-obs 1000 --out $(MC_DIR)/d3_m1000

$(RESULTS)/figures/mc_factors.png $(RESULTS)/figures/mc_factors.pdf: $(MC_DIR)/d3/switch_sweep.dat $(MC4_RUNS) plots/mc_factors.gp
	@mkdir -p $(dir $@)
	gnuplot -e "dir='$(MC_DIR)'; out='$@'" plots/mc_factors.gp

# the same runs: top-10 singular values vs update for D = 1, 2, 3 and T_c = 1000, 20000, 100000
FIGURES += $(RESULTS)/figures/mc_sv.png $(RESULTS)/figures/mc_sv.pdf
$(RESULTS)/figures/mc_sv.png $(RESULTS)/figures/mc_sv.pdf: $(MC_RUNS) plots/mc_sv.gp
	@mkdir -p $(dir $@)
	gnuplot -e "dir='$(MC_DIR)'; out='$@'" plots/mc_sv.gp

F2_DIR  := $(RESULTS)/flow_fig2
F2_RUNS := $(F2_DIR)/early/modes.dat $(F2_DIR)/middle/modes.dat $(F2_DIR)/late/modes.dat
FIGURES += $(RESULTS)/figures/flow_fig2.png $(RESULTS)/figures/flow_fig2.pdf

.PRECIOUS: $(F2_RUNS)
$(F2_DIR)/early/modes.dat: models/flow_fig2.ini $(BIN)
	./$(BIN) flow --model models/flow_fig2.ini --deficit gate:b@0-150 --out $(F2_DIR)/early
$(F2_DIR)/middle/modes.dat: models/flow_fig2.ini $(BIN)
	./$(BIN) flow --model models/flow_fig2.ini --deficit gate:b@400-550 --out $(F2_DIR)/middle
$(F2_DIR)/late/modes.dat: models/flow_fig2.ini $(BIN)
	./$(BIN) flow --model models/flow_fig2.ini --deficit gate:b@750-900 --out $(F2_DIR)/late

$(RESULTS)/figures/flow_fig2.png $(RESULTS)/figures/flow_fig2.pdf: $(F2_RUNS) plots/flow_modes.gp
	@mkdir -p $(dir $@)
	gnuplot -e "dir='$(F2_DIR)'; out='$@'" plots/flow_modes.gp

# ICLR 2024 Fig. 3 on full weight matrices: gate b on [0, 200) + lesion of mode 1 of pathway a
# (models/flow_fig3.ini, plots/flow_fig3.gp); a fraction of a second.
F3_DIR  := $(RESULTS)/flow_fig3
FIGURES += $(RESULTS)/figures/flow_fig3.png $(RESULTS)/figures/flow_fig3.pdf

.PRECIOUS: $(F3_DIR)/modes.dat
$(F3_DIR)/modes.dat: models/flow_fig3.ini $(BIN)
	./$(BIN) flow --model models/flow_fig3.ini --out $(F3_DIR)

$(RESULTS)/figures/flow_fig3.png $(RESULTS)/figures/flow_fig3.pdf: $(F3_DIR)/modes.dat plots/flow_fig3.gp
	@mkdir -p $(dir $@)
	gnuplot -e "dir='$(F3_DIR)'; out='$@'" plots/flow_fig3.gp
