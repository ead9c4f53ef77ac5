# plots/paper.mk - the reproduction paper: `make paper` runs every experiment the paper quotes (the
# same runs and sweeps as `make figures`), fills paper/critsim.md.in with numbers read
# from their tables by paper/fill.awk (a token that cannot be resolved stops the build and names
# itself), and draws small copies of its figures into paper/figures/ (PNG, scale PAPER_PSZ).
#   make paper                            # results/ -> paper/critsim.md, paper/figures/*.png
#   make paper RESULTS=results-fig BIN=critsim-fig BUILD=build-fig
# 96 minutes on two cores (2026-12-05): the CNN sweeps of sections 5 and 5c (plots/cnn.mk and
# plots/cnn_inh.mk, about 88 minutes), then the latent recovery sweep (plots/linctl.mk), the five
# matrix-completion runs (D = 1, 2, 3 and two D = 3 variants) and the rest (about 7 minutes).
# The paper is written to paper/critsim.md.tmp first and renamed when complete.
# Paths are spelled out here (not taken from the other fragments' variables) because make expands
# prerequisites when it reads this file, before plots/sweep.mk is read.
PAPER_PSZ  ?= 0.6
PAPER_FIGS := flow_fig2 flow_fig3 cp_gate cp_generic phase_fig1 phase_fig7 cp_end cp_onset mc_switch mc_factors cp_latent_long cp_latent_recovery cnn_cp_deficits cnn_cp_restart cnn_cp_window cnn_cp_depth cnn_inh cnn_inh_restart cnn_inh_theory
PAPER_PNG  := $(PAPER_FIGS:%=paper/figures/%.png)
PAPER_SW   := $(foreach s,cp_gate cp_lesion cp_end cp_onset cp_latent cp_latent_long,$(RESULTS)/sweep/$(s)/summary.dat)
PAPER_MC   := $(foreach d,d1 d2 d3 d3_r2 d3_m1000,$(RESULTS)/mc/$(d)/switch_sweep.dat)
PAPER_PH   := $(foreach d,2 5 8 13,$(RESULTS)/phase1/d$(d)_early/traj.dat $(RESULTS)/phase1/d$(d)_late/traj.dat $(RESULTS)/phase1/d$(d)_none/traj.dat) \
              $(foreach d,2 3 4,$(RESULTS)/phase7/d$(d)_early/traj.dat $(RESULTS)/phase7/d$(d)_late/traj.dat $(RESULTS)/phase7/d$(d)_early_rk8pd/traj.dat)
# controls of the linear experiments (plots/linctl.mk): latent recovery time, generic initialisation
PAPER_CTL  := $(RESULTS)/sweep/cp_latent_recovery/recovery.dat $(RESULTS)/sweep/cp_generic/summary.dat
PAPER_FLOW := $(foreach w,early middle late,$(RESULTS)/flow_fig2/$(w)/modes.dat) $(RESULTS)/flow_fig3/modes.dat
# L2: the full-matrix network (critsim flow) and the per-mode recurrence (critsim modes) from the same
# balanced aligned init K(0) = 0.01, b gated on [0, 150), depth 4
PAPER_L2   := $(RESULTS)/paper/l2_flow/modes.dat $(RESULTS)/paper/l2_modes/modes.dat
# L9: a shallow (D = 1) early gate [0, 10) per mode, Euler and gradient flow (rk8pd), K(0) = 0.01, 0.001,
# 0.0001: the mode dependence of the damage is K(0)/s, not the Euler step
PAPER_D1   := $(foreach m,euler rk8pd,$(foreach k,0.01 0.001 0.0001,$(RESULTS)/paper/d1_k0/$(m)_$(k)/final.dat))
# the CNN deficit experiment of section 5 (plots/cnn.mk, models/cnn_cp_deficits.ini): about 45 minutes
PAPER_CPD  := $(RESULTS)/sweep/cnn_cp_deficits/summary_seeds.dat $(RESULTS)/sweep/cnn_cp_deficits/curves.dat
# its learning-rate restart experiment and the Fisher trace of the deficit-free run (plots/cnn.mk;
# models/cnn_cp_restart.ini about 780 and models/cnn_cp_fisher.ini about 80 single-thread
# core-seconds), the sliding window (models/cnn_cp_window.ini, about 900) and the depth sweeps
# (models/cnn_cp_depth.ini, cnn_cp_split.ini, about 600 and 800)
PAPER_CP2  := $(RESULTS)/sweep/cnn_cp_deficits/paired.dat $(RESULTS)/sweep/cnn_cp_restart/paired.dat \
              $(RESULTS)/sweep/cnn_cp_fisher/fisher_seeds.dat $(RESULTS)/sweep/cnn_cp_window/paired.dat \
              $(RESULTS)/sweep/cnn_cp_depth/paired.dat $(RESULTS)/sweep/cnn_cp_split/paired.dat \
              $(RESULTS)/sweep/cnn_cp_deficits/paired_24.dat
# the split-CNN inhibition sweeps of section 5c (plots/cnn_inh.mk)
PAPER_INH  := $(foreach s,cnn_inh_remove cnn_inh_restart cnn_inh_depth cnn_inh_blur cnn_inh_norz,$(RESULTS)/sweep/$(s)/final.dat)
PAPER_DATA := $(PAPER_SW) $(PAPER_MC) $(PAPER_PH) $(PAPER_FLOW) $(PAPER_L2) $(PAPER_D1) $(PAPER_CTL) $(PAPER_CPD) $(PAPER_CP2) $(PAPER_INH) $(RESULTS)/headline/share.dat

.PHONY: paper
paper: paper/critsim.md $(PAPER_PNG)
	@echo "paper: paper/critsim.md (numbers from $(RESULTS)), figures in paper/figures: $(notdir $(PAPER_PNG))"

.PRECIOUS: $(PAPER_L2) $(PAPER_D1)
$(PAPER_D1): $(RESULTS)/paper/d1_k0/%/final.dat: $(BIN)
	./$(BIN) modes --depth 1 --init-k $(lastword $(subst _, ,$*)) --method $(firstword $(subst _, ,$*)) --dt 0.01 --steps 1000 --every 1000 --deficit gate:b@0-10 --out $(dir $@)
$(RESULTS)/paper/l2_flow/modes.dat: models/flow_fig2.ini $(BIN)
	./$(BIN) flow --model models/flow_fig2.ini --init-noise 0 --deficit gate:b@0-150 --out $(RESULTS)/paper/l2_flow
$(RESULTS)/paper/l2_modes/modes.dat: $(BIN)
	./$(BIN) modes --depth 4 --init-k 0.01 --dt 0.01 --steps 1000 --every 10 --deficit gate:b@0-150 --out $(RESULTS)/paper/l2_modes

paper/critsim.md: paper/critsim.md.in paper/fill.awk $(PAPER_DATA)
	awk -v R='$(RESULTS)' -f paper/fill.awk paper/critsim.md.in > $@.tmp || { rm -f $@.tmp; exit 1; }
	mv $@.tmp $@

# small copies of the figures for the Markdown paper (the full-size PNG/PDF are in $(RESULTS)/figures)
paper/figures/flow_fig2.png: $(foreach w,early middle late,$(RESULTS)/flow_fig2/$(w)/modes.dat) plots/flow_modes.gp
	@mkdir -p $(dir $@)
	gnuplot -e "dir='$(RESULTS)/flow_fig2'; psz=$(PAPER_PSZ); out='$@'" plots/flow_modes.gp
paper/figures/flow_fig3.png: $(RESULTS)/flow_fig3/modes.dat plots/flow_fig3.gp
	@mkdir -p $(dir $@)
	gnuplot -e "dir='$(RESULTS)/flow_fig3'; psz=$(PAPER_PSZ); out='$@'" plots/flow_fig3.gp
paper/figures/cp_gate.png paper/figures/cp_end.png paper/figures/cp_onset.png paper/figures/cp_latent_long.png: \
  paper/figures/%.png: $(RESULTS)/sweep/%/summary.dat plots/cp_gate.gp plots/cp_end.gp plots/cp_onset.gp plots/cp_latent.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f='$<'; psz=$(PAPER_PSZ); out='$@'; $(if $(filter %_long,$*),steps=30000)" plots/$(patsubst %_long,%,$*).gp
paper/figures/phase_fig1.png: $(filter $(RESULTS)/phase1/%,$(PAPER_PH)) plots/phase.gp
	@mkdir -p $(dir $@)
	gnuplot -e "dir='$(RESULTS)/phase1'; depths='2 5 8 13'; rows='early late none'; field=0; psz=$(PAPER_PSZ); ttl='Large init (c = 1), s = 10, 100 trajectories: early gate [0,15) top, late gate [100,115) middle, no gate bottom'; out='$@'" plots/phase.gp
paper/figures/cp_latent_recovery.png: $(RESULTS)/sweep/cp_latent_recovery/recovery.dat plots/cp_latent_recovery.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f='$<'; psz=$(PAPER_PSZ); out='$@'" plots/cp_latent_recovery.gp
paper/figures/cp_generic.png: $(RESULTS)/sweep/cp_generic/summary.dat plots/cp_generic.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f='$<'; psz=$(PAPER_PSZ); out='$@'" plots/cp_generic.gp
paper/figures/phase_fig7.png: $(filter-out %_rk8pd/traj.dat,$(filter $(RESULTS)/phase7/%,$(PAPER_PH))) plots/phase.gp
	@mkdir -p $(dir $@)
	gnuplot -e "dir='$(RESULTS)/phase7'; depths='2 3 4'; ntraj=1; field=0; psz=$(PAPER_PSZ); ttl='Small init p0 = 0.005, s = 10: early gate [0,5) top, late gate [500000,510000) bottom'; out='$@'" plots/phase.gp
paper/figures/mc_switch.png: $(filter-out %_r2/switch_sweep.dat %_m1000/switch_sweep.dat,$(PAPER_MC)) plots/mc.gp
	@mkdir -p $(dir $@)
	gnuplot -e "dir='$(RESULTS)/mc'; psz=$(PAPER_PSZ); out='$@'" plots/mc.gp
paper/figures/mc_factors.png: $(RESULTS)/mc/d3/switch_sweep.dat $(RESULTS)/mc/d3_r2/switch_sweep.dat $(RESULTS)/mc/d3_m1000/switch_sweep.dat plots/mc_factors.gp
	@mkdir -p $(dir $@)
	gnuplot -e "dir='$(RESULTS)/mc'; psz=$(PAPER_PSZ); out='$@'" plots/mc_factors.gp
paper/figures/cnn_cp_deficits.png: $(RESULTS)/sweep/cnn_cp_deficits/curves.dat plots/cnn_cp_deficits.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f='$<'; clean=$(CP_CLEAN); psz=$(PAPER_PSZ); out='$@'" plots/cnn_cp_deficits.gp
paper/figures/cnn_cp_restart.png: $(RESULTS)/sweep/cnn_cp_deficits/paired.dat $(RESULTS)/sweep/cnn_cp_restart/paired.dat plots/cnn_cp_restart.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f1='$(word 1,$^)'; f2='$(word 2,$^)'; psz=$(PAPER_PSZ); out='$@'" plots/cnn_cp_restart.gp
paper/figures/cnn_cp_window.png: $(RESULTS)/sweep/cnn_cp_window/paired.dat $(RESULTS)/sweep/cnn_cp_fisher/fisher_seeds.dat plots/cnn_cp_window.gp
	@mkdir -p $(dir $@)
	gnuplot -e "f='$(word 1,$^)'; ff='$(word 2,$^)'; psz=$(PAPER_PSZ); out='$@'" plots/cnn_cp_window.gp
paper/figures/cnn_cp_depth.png: $(RESULTS)/sweep/cnn_cp_depth/paired.dat $(RESULTS)/sweep/cnn_cp_deficits/paired_24.dat $(RESULTS)/sweep/cnn_cp_split/paired.dat plots/cnn_cp_depth.gp
	@mkdir -p $(dir $@)
	gnuplot -e "fd='$(word 1,$^)'; f2='$(word 2,$^)'; fs='$(word 3,$^)'; psz=$(PAPER_PSZ); out='$@'" plots/cnn_cp_depth.gp
