# plots/analyze.mk - figures of `critsim analyze`: per-source singular values with the deficit window
# shaded (svd.gp), tracked share and inhibition vs time (share.gp), RSV histograms (rsv.gp).
#
# Generic rules, for any run folder DIR that holds snap/ (written by critsim flow or cnn):
#   make DIR/fig_svd.png DIR/fig_share.png DIR/fig_rsv.png
# run `critsim analyze --run DIR` first if needed; the deficit window to shade is the first '@S-E' in
# the engine's command line (DIR/loss.dat or DIR/epochs.dat), RSV histograms are drawn at the first
# step, the end of that window and the last step (override: make ... RSV_STEPS='0 990 3000').
#
# Concrete figures (in FIGURES): two small flow runs,
#   analyze_paths: two pathways on a shared input (ICLR 2024 multipath model), early gate of b;
#   analyze_fused: one deep network on two sources, source b removed for the first 1000 updates.
AN_DIR   := $(RESULTS)/analyze
AN_PATHS := $(AN_DIR)/paths_early
AN_FUSED := $(AN_DIR)/fused_remove
FIGURES  += $(RESULTS)/figures/analyze_svd.png $(RESULTS)/figures/analyze_share.png \
            $(RESULTS)/figures/analyze_rsv.png
RSV_STEPS ?=

# deficit window "S E" of run $(1) from the engine's command line (empty when none)
an_window = $$(grep -h -m1 '^\# command:' $(1)/loss.dat $(1)/epochs.dat 2>/dev/null | grep -o '@[0-9]*-[0-9]*' | head -n 1 | tr '@-' '  ')
an_gpwin  = $$(w="$(call an_window,$(1))"; set -- $$w; [ -n "$$2" ] && echo "dlo=$$1; dhi=$$2;")

.PRECIOUS: %/svd.dat %/share.dat %/snap/index.dat %/fig_svd.png %/fig_share.png %/fig_rsv.png
%/svd.dat %/share.dat: %/snap/index.dat $(BIN)
	./$(BIN) analyze --run $*

%/fig_svd.png: %/svd.dat plots/svd.gp
	gnuplot -e "run='$*'; out='$@'; $(call an_gpwin,$*)" plots/svd.gp

%/fig_share.png: %/share.dat plots/share.gp
	gnuplot -e "run='$*'; out='$@'; $(call an_gpwin,$*)" plots/share.gp

%/fig_rsv.png: %/share.dat plots/rsv.gp
	@test -s $*/rsv_hist.dat || { echo "$*: no rsv_hist.dat (the run has no hidden maps)" >&2; exit 1; }
	steps='$(RSV_STEPS)'; \
	if [ -z "$$steps" ]; then \
	  all=$$(awk '!/^#/ { print $$1 }' $*/rsv_hist.dat | sort -un); \
	  first=$$(echo "$$all" | head -n 1); last=$$(echo "$$all" | tail -n 1); \
	  w="$(call an_window,$*)"; set -- $$w; mid=""; \
	  if [ -n "$$2" ]; then mid=$$(echo "$$all" | awk -v e=$$2 '$$1 < e { m = $$1 } END { print m }'); fi; \
	  steps=$$(printf '%s\n' $$first $$mid $$last | awk 'NF && !seen[$$0]++' | tr '\n' ' '); \
	fi; \
	gnuplot -e "run='$*'; out='$@'; steps='$$steps'" plots/rsv.gp

$(AN_PATHS)/snap/index.dat: $(BIN)
	./$(BIN) flow --shared-input --init aligned --init-eps 0.01 --loss sum --steps 1000 --every 5 \
	  --deficit gate:b@0-150 --out $(AN_PATHS)

$(AN_FUSED)/snap/index.dat: $(BIN)
	./$(BIN) flow --arch fused --task latent --depth 3 --init-scale 0.01 --steps 3000 --every 30 \
	  --deficit remove:b@0-1000 --out $(AN_FUSED)

$(RESULTS)/figures/analyze_svd.png: $(AN_PATHS)/fig_svd.png
	@mkdir -p $(dir $@); cp $< $@
$(RESULTS)/figures/analyze_share.png: $(AN_PATHS)/fig_share.png
	@mkdir -p $(dir $@); cp $< $@
$(RESULTS)/figures/analyze_rsv.png: $(AN_FUSED)/fig_rsv.png
	@mkdir -p $(dir $@); cp $< $@
