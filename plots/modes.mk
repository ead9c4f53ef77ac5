# plots/modes.mk - the main job (`make run` -> main-job) and the figures of `critsim modes` and
# `critsim phase`:
#   headline   critsim modes --headline: depths 1..6 x gate b early/middle/late, final share per mode
#              (plots/headline.gp -> headline_share, headline_fig2); well under a second.
#   phase      phase portraits: Fig. 1 layout (large init c = 1, s = 10, D = 2,5,8,13) and Fig. 7
#              layout (small init p0 = 0.005, D = 2,3,4) (models/phase_*.ini, plots/phase.gp).  Fig. 1
#              also runs the deficit-free control from the same starts (dD_none, `--deficit gate:b@0-0`,
#              an empty window; third row of the figure); Fig. 7's early gate also runs under the
#              gradient flow (dD_early_rk8pd, `--method rk8pd`; quoted by the paper, not drawn).
HL_DIR := $(RESULTS)/headline

.PHONY: main-job
main-job: $(BIN)
	./$(BIN) modes --headline --out $(HL_DIR)
	@mkdir -p $(RESULTS)/figures
	@if command -v gnuplot >/dev/null 2>&1; then \
	  gnuplot -e "dir='$(HL_DIR)'; outdir='$(RESULTS)/figures'; fmt='png'" plots/headline.gp && \
	  gnuplot -e "dir='$(HL_DIR)'; outdir='$(RESULTS)/figures'; fmt='pdf'" plots/headline.gp && \
	  echo "figures: $(RESULTS)/figures/headline_share.png $(RESULTS)/figures/headline_fig2.png (and .pdf)"; \
	else echo "critsim: gnuplot not found (apt-get install gnuplot-nox); tables are in $(HL_DIR)" >&2; exit 1; fi

FIGURES += $(RESULTS)/figures/headline_share.png $(RESULTS)/figures/headline_fig2.png \
           $(RESULTS)/figures/headline_share.pdf $(RESULTS)/figures/headline_fig2.pdf
.PRECIOUS: $(HL_DIR)/share.dat
$(HL_DIR)/share.dat: $(BIN)
	./$(BIN) modes --headline --out $(HL_DIR)
$(RESULTS)/figures/headline_share.png $(RESULTS)/figures/headline_fig2.png &: $(HL_DIR)/share.dat plots/headline.gp
	@mkdir -p $(dir $@)
	gnuplot -e "dir='$(HL_DIR)'; outdir='$(RESULTS)/figures'; fmt='png'" plots/headline.gp
$(RESULTS)/figures/headline_share.pdf $(RESULTS)/figures/headline_fig2.pdf &: $(HL_DIR)/share.dat plots/headline.gp
	@mkdir -p $(dir $@)
	gnuplot -e "dir='$(HL_DIR)'; outdir='$(RESULTS)/figures'; fmt='pdf'" plots/headline.gp

# phase portraits: Fig. 1 (large init, D = 2,5,8,13) and Fig. 7 (small init, D = 2,3,4)
PH1_DIR := $(RESULTS)/phase1
PH7_DIR := $(RESULTS)/phase7
PH1_RUNS := $(foreach d,2 5 8 13,$(PH1_DIR)/d$(d)_early/traj.dat $(PH1_DIR)/d$(d)_late/traj.dat $(PH1_DIR)/d$(d)_none/traj.dat)
PH7_RUNS := $(foreach d,2 3 4,$(PH7_DIR)/d$(d)_early/traj.dat $(PH7_DIR)/d$(d)_late/traj.dat)
PH7_FLOW := $(foreach d,2 3 4,$(PH7_DIR)/d$(d)_early_rk8pd/traj.dat)
FIGURES += $(RESULTS)/figures/phase_fig1.png $(RESULTS)/figures/phase_fig7.png \
           $(RESULTS)/figures/phase_fig1.pdf $(RESULTS)/figures/phase_fig7.pdf
.PRECIOUS: $(PH1_RUNS) $(PH7_RUNS) $(PH7_FLOW)

$(PH1_DIR)/d%_early/traj.dat: models/phase_large.ini $(BIN)
	./$(BIN) phase --model models/phase_large.ini --depth $* --deficit gate:b@0-14 --out $(dir $@)
$(PH1_DIR)/d%_late/traj.dat: models/phase_large.ini $(BIN)
	./$(BIN) phase --model models/phase_large.ini --depth $* --deficit gate:b@99-114 --out $(dir $@)
$(PH1_DIR)/d%_none/traj.dat: models/phase_large.ini $(BIN)
	./$(BIN) phase --model models/phase_large.ini --depth $* --deficit gate:b@0-0 --out $(dir $@)
$(PH7_DIR)/d%_early_rk8pd/traj.dat: models/phase_small.ini $(BIN)
	./$(BIN) phase --model models/phase_small.ini --depth $* --method rk8pd --deficit gate:b@0-4 --out $(dir $@)
$(PH7_DIR)/d%_early/traj.dat: models/phase_small.ini $(BIN)
	./$(BIN) phase --model models/phase_small.ini --depth $* --deficit gate:b@0-4 --out $(dir $@)
$(PH7_DIR)/d%_late/traj.dat: models/phase_small.ini $(BIN)
	./$(BIN) phase --model models/phase_small.ini --depth $* --deficit gate:b@499999-509999 --out $(dir $@)

$(RESULTS)/figures/phase_fig1.png $(RESULTS)/figures/phase_fig1.pdf: $(PH1_RUNS) plots/phase.gp
	@mkdir -p $(dir $@)
	gnuplot -e "dir='$(PH1_DIR)'; depths='2 5 8 13'; rows='early late none'; ttl='Large init (c = 1), s = 10: early gate [0,15) top, late gate [100,115) middle, no gate (same starts) bottom'; out='$@'" plots/phase.gp
$(RESULTS)/figures/phase_fig7.png $(RESULTS)/figures/phase_fig7.pdf: $(PH7_RUNS) plots/phase.gp
	@mkdir -p $(dir $@)
	gnuplot -e "dir='$(PH7_DIR)'; depths='2 3 4'; ntraj=1; ttl='Small init p0 = 0.005, s = 10: early gate [0,5) top, late gate [500000,510000) bottom'; out='$@'" plots/phase.gp
