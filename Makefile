# hyrank: the two commands are `make demo` and `make test`.
# Every tool a target needs is checked (and installed if missing) by `make tools`.

CARGO    ?= cargo
DEMO_DIR ?= out/demo
SEED     ?= 42
# Demo world size: large enough to be interesting, small enough for a laptop.
DEMO_PRODUCTS ?= 20000
DEMO_QUERIES  ?= 1000
DEMO_EVENTS   ?= 300000
HYRANK   := ./target/release/hyrank
# Where the demo's search API listens (port 0: any free port).
DEMO_ADDR ?= 127.0.0.1:8080
# LightGBM's LETOR sample (public reference data beside the repository), for the
# demo's training step; the step is skipped with a note where it is absent.
LETOR_DIR ?= ../shared/data/letor_sample

.PHONY: demo demo-rank demo-train demo-experiment experiment-study serve-demo stop test tools build fmt clippy nextest doctest bench-generate bench-env bench tune-measure clean

## The main job, end to end: fetch the model if absent, build, generate the synthetic
## world, index it (BM25 + embeddings + HNSW), run example queries in the three modes,
## retrieve for every judged query, evaluate, train and compare the rankers (demo-rank,
## demo-train), and leave the search API running in the background, ranking with the
## champion (its URL is the last line). Before the API starts, demo-experiment runs the
## experiments and the promotion gate.
demo: tools build
	$(HYRANK) model fetch
	$(HYRANK) data generate --out $(DEMO_DIR) --seed $(SEED) \
		--products $(DEMO_PRODUCTS) --queries $(DEMO_QUERIES) --events $(DEMO_EVENTS)
	$(HYRANK) data stats $(DEMO_DIR)
	$(HYRANK) index build --catalog $(DEMO_DIR)/catalog.ndjson --out $(DEMO_DIR)/index --hnsw
	@for q in "grey velvet couch" "water boiler" "brass standing lamp"; do \
		for m in bm25 dense hybrid; do \
			$(HYRANK) search --index $(DEMO_DIR)/index --mode $$m --k 5 --explain "$$q" || exit 1; echo; \
		done; \
	done
	@mkdir -p $(DEMO_DIR)/runs
	$(HYRANK) search --index $(DEMO_DIR)/index --queries $(DEMO_DIR)/queries.tsv --mode bm25 --k 100 --run-out $(DEMO_DIR)/runs/bm25.trec
	$(HYRANK) search --index $(DEMO_DIR)/index --queries $(DEMO_DIR)/queries.tsv --mode dense --k 100 --run-out $(DEMO_DIR)/runs/dense.trec
	$(HYRANK) search --index $(DEMO_DIR)/index --queries $(DEMO_DIR)/queries.tsv --mode hybrid --fusion rrf --k 100 --run-out $(DEMO_DIR)/runs/hybrid-rrf.trec
	$(HYRANK) search --index $(DEMO_DIR)/index --queries $(DEMO_DIR)/queries.tsv --mode hybrid --fusion linear --k 100 --run-out $(DEMO_DIR)/runs/hybrid-linear.trec
	$(HYRANK) eval --qrels $(DEMO_DIR)/qrels.trec --metrics ndcg_cut_10,recip_rank,map,recall_100 \
		--run $(DEMO_DIR)/runs/bm25.trec --run $(DEMO_DIR)/runs/dense.trec \
		--run $(DEMO_DIR)/runs/hybrid-rrf.trec --run $(DEMO_DIR)/runs/hybrid-linear.trec --out $(DEMO_DIR)/report
	@echo "demo data in $(DEMO_DIR); evaluation report in $(DEMO_DIR)/report/report.html"
	@$(MAKE) --no-print-directory demo-rank
	@$(MAKE) --no-print-directory demo-train
	@$(MAKE) --no-print-directory demo-experiment
	@$(MAKE) --no-print-directory serve-demo

## Rankers from the demo log: LR, LambdaMART and the multi-task network trained on
## the first 80 % of the log's days and validated on the rest (AUCs, calibration,
## nDCG of the validation impressions), LambdaMART on the judgments of 80 % of the
## queries, and the network with its conversion tower trained on clicked impressions
## only (what ESMM is compared with); all registered and compared, logistic
## regression (the baseline) promoted as the first champion (demo-experiment's gate
## decides on the best); then nDCG@10 on the held-out
## judged queries of hybrid retrieval, hybrid + each ranker, and the oracle.
demo-rank:
	rm -rf $(DEMO_DIR)/registry $(DEMO_DIR)/runs/held-out-*.trec
	mkdir -p $(DEMO_DIR)/runs
	@for m in lr lambdamart mtl; do \
		$(HYRANK) train --log $(DEMO_DIR)/events --index $(DEMO_DIR)/index --model $$m \
			--registry $(DEMO_DIR)/registry --id $$m --reason demo || exit 1; echo; \
	done
	@echo '{"mtl": {"entire_space": false}}' > $(DEMO_DIR)/mtl-clicked-only.json
	$(HYRANK) train --log $(DEMO_DIR)/events --index $(DEMO_DIR)/index --model mtl --config $(DEMO_DIR)/mtl-clicked-only.json \
		--registry $(DEMO_DIR)/registry --id mtl-cvr-on-clicks --reason "demo: the ESMM paper's comparison model"
	$(HYRANK) train --qrels $(DEMO_DIR)/qrels.trec --queries $(DEMO_DIR)/queries.tsv --index $(DEMO_DIR)/index \
		--history $(DEMO_DIR)/events --model lambdamart --registry $(DEMO_DIR)/registry --id lambdamart-judged \
		--holdout-out $(DEMO_DIR)/held-out-queries.tsv --reason demo
	$(HYRANK) model compare --registry $(DEMO_DIR)/registry
	$(HYRANK) model promote lr --registry $(DEMO_DIR)/registry --reason "demo: the baseline is the first champion"
	$(HYRANK) search --index $(DEMO_DIR)/index --queries $(DEMO_DIR)/held-out-queries.tsv --mode hybrid --k 100 \
		--run-out $(DEMO_DIR)/runs/held-out-hybrid.trec
	$(HYRANK) search --index $(DEMO_DIR)/index --queries $(DEMO_DIR)/held-out-queries.tsv --mode hybrid --k 100 \
		--oracle $(DEMO_DIR)/qrels.trec --run-out $(DEMO_DIR)/runs/held-out-oracle.trec
	@for m in lr lambdamart mtl lambdamart-judged; do \
		$(HYRANK) search --index $(DEMO_DIR)/index --queries $(DEMO_DIR)/held-out-queries.tsv --mode hybrid --k 100 \
			--registry $(DEMO_DIR)/registry --ranker $$m --history $(DEMO_DIR)/events --as-of history-end \
			--run-out $(DEMO_DIR)/runs/held-out-$$m.trec || exit 1; \
	done
	$(HYRANK) eval --qrels $(DEMO_DIR)/qrels.trec --metrics ndcg_cut_10,recip_rank \
		--run $(DEMO_DIR)/runs/held-out-hybrid.trec --run $(DEMO_DIR)/runs/held-out-lr.trec \
		--run $(DEMO_DIR)/runs/held-out-lambdamart.trec --run $(DEMO_DIR)/runs/held-out-mtl.trec \
		--run $(DEMO_DIR)/runs/held-out-lambdamart-judged.trec --run $(DEMO_DIR)/runs/held-out-oracle.trec
	@echo "the same runs judged by the world's truth (every candidate graded, not only the pool):"
	$(HYRANK) data judge --data $(DEMO_DIR) --out $(DEMO_DIR)/truth-qrels.trec \
		$(foreach m,hybrid lr lambdamart mtl lambdamart-judged,--run $(DEMO_DIR)/runs/held-out-$(m).trec)
	$(HYRANK) search --index $(DEMO_DIR)/index --queries $(DEMO_DIR)/held-out-queries.tsv --mode hybrid --k 100 \
		--oracle $(DEMO_DIR)/truth-qrels.trec --run-out $(DEMO_DIR)/runs/held-out-oracle-truth.trec
	$(HYRANK) eval --qrels $(DEMO_DIR)/truth-qrels.trec --metrics ndcg_cut_10,recip_rank \
		$(foreach m,hybrid lr lambdamart mtl lambdamart-judged oracle-truth,--run $(DEMO_DIR)/runs/held-out-$(m).trec)

## Rankers from feature files, as LightGBM's CLI trains them: LambdaMART and logistic
## regression on LightGBM's LETOR sample, both registered (in their own registry),
## compared on rank.test, the better on validation nDCG@10 promoted there.
demo-train:
	@if [ ! -f $(LETOR_DIR)/rank.train ]; then \
		echo "training step skipped: $(LETOR_DIR) (LightGBM's LETOR sample) is absent"; exit 0; fi; \
	set -e; rm -rf $(DEMO_DIR)/letor-registry; mkdir -p $(DEMO_DIR)/scores; \
	$(HYRANK) train --format letor --train $(LETOR_DIR)/rank.train --valid $(LETOR_DIR)/rank.test \
		--registry $(DEMO_DIR)/letor-registry --id lambdamart --reason demo; \
	$(HYRANK) train --format letor --model lr --train $(LETOR_DIR)/rank.train --valid $(LETOR_DIR)/rank.test \
		--registry $(DEMO_DIR)/letor-registry --id lr --reason demo; \
	for m in lambdamart lr; do \
		$(HYRANK) predict --format letor --registry $(DEMO_DIR)/letor-registry --model $$m \
			--input $(LETOR_DIR)/rank.test --out $(DEMO_DIR)/scores/$$m.txt; done; \
	$(HYRANK) eval --letor $(LETOR_DIR)/rank.test --scores $(DEMO_DIR)/scores/lr.txt \
		--scores $(DEMO_DIR)/scores/lambdamart.txt --gain exponential --metrics ndcg_cut_10,ndcg_cut_5,ndcg; \
	$(HYRANK) model promote --best valid_ndcg@10 --registry $(DEMO_DIR)/letor-registry --reason demo; \
	$(HYRANK) model list --registry $(DEMO_DIR)/letor-registry

## Experiments in the synthetic world of the demo (users whose true preferences are
## known): team-draft interleaving of the two rankers with the best validation purchase
## AUC, a simulated A/B test of the best against the champion, then the promotion gate
## (examples/promotion.toml), which promotes it or holds (the decision in the audit log).
## Reports (JSON + HTML) in $(DEMO_DIR)/experiments.
EXPERIMENT_FLAGS = --data $(DEMO_DIR) --index $(DEMO_DIR)/index --registry $(DEMO_DIR)/registry \
	--history $(DEMO_DIR)/events
demo-experiment:
	@mkdir -p $(DEMO_DIR)/experiments
	@set -e; two=$$($(HYRANK) model best --metric valid_auc_purchase --top 2 --pipeline-only --registry $(DEMO_DIR)/registry | paste -sd, -); \
	echo "interleaving the two best rankers by validation purchase AUC: $$two"; \
	$(HYRANK) experiment interleave --rankers $$two --sessions 20000 --credit purchases \
		$(EXPERIMENT_FLAGS) --out $(DEMO_DIR)/experiments/interleave
	@set -e; best=$$($(HYRANK) model best --metric valid_auc_purchase --exclude-champion --pipeline-only --registry $(DEMO_DIR)/registry); \
	echo "A/B test: $$best against the champion"; \
	$(HYRANK) experiment ab --control champion --treatment $$best --sessions 20000 \
		$(EXPERIMENT_FLAGS) --out $(DEMO_DIR)/experiments/ab; \
	$(HYRANK) promote --candidate $$best --policy examples/promotion.toml --reason demo \
		$(EXPERIMENT_FLAGS) --out $(DEMO_DIR)/experiments/decision; \
	$(HYRANK) model audit --registry $(DEMO_DIR)/registry | tail -n 3

## The experiments section of docs/benchmarks.md (release build, the demo-sized world in
## out/experiment-world): team-draft vs A/B sensitivity over 50 seeds, the gate's validity
## over 200, off-policy coverage over 200, click-model perplexities, sessions per second.
## Rewrites that section only; needs python3 alone (no peers).
experiment-study: build
	python3 bench/run.py experiments

## (Re)starts the search API over the demo index in the background and prints its URL;
## `make stop` stops it. Its log (one line a search) is $(DEMO_DIR)/api.log.
serve-demo: stop
	@rm -f $(DEMO_DIR)/api.url
	@ranking=""; [ -f $(DEMO_DIR)/registry/champion.json ] && \
		ranking="--registry $(DEMO_DIR)/registry --history $(DEMO_DIR)/events --as-of history-end"; \
	nohup $(HYRANK) -v serve --index $(DEMO_DIR)/index --addr $(DEMO_ADDR) $$ranking \
		--ready-file $(DEMO_DIR)/api.url > $(DEMO_DIR)/api.log 2>&1 & echo $$! > $(DEMO_DIR)/api.pid
	@for i in $$(seq 1 300); do \
		[ -f $(DEMO_DIR)/api.url ] && break; \
		kill -0 $$(cat $(DEMO_DIR)/api.pid) 2>/dev/null || { cat $(DEMO_DIR)/api.log; echo "the search API did not start (its log is above)"; exit 1; }; \
		sleep 0.2; \
	done; [ -f $(DEMO_DIR)/api.url ] || { cat $(DEMO_DIR)/api.log; echo "the search API was not listening after 60 s"; exit 1; }
	@url=$$(cat $(DEMO_DIR)/api.url); \
		echo "search API running at $$url (pid $$(cat $(DEMO_DIR)/api.pid); stop it with: make stop)"; \
		echo "  try: curl '$$url/search?q=grey+velvet+couch&k=5&explain=true'"

## Stops the demo's search API, if it runs.
stop:
	@if [ -f $(DEMO_DIR)/api.pid ]; then kill $$(cat $(DEMO_DIR)/api.pid) 2>/dev/null || true; rm -f $(DEMO_DIR)/api.pid; fi

## Format check, clippy (deny warnings), one build of every test binary and of
## target/debug/hyrank (the same features for every step, so nothing is compiled twice),
## the model (so that the parity test runs against the real weights), the doc tests,
## then the test suite (nextest, whose summary closes the run).
test: tools
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) nextest run --workspace --no-run
	./target/debug/hyrank model fetch
	$(CARGO) test --workspace --doc
	$(CARGO) nextest run --workspace --no-fail-fast

## Installs what is missing: rustfmt, clippy, cargo-nextest.
tools:
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy
	@$(CARGO) nextest --version >/dev/null 2>&1 || $(CARGO) install cargo-nextest --locked

build:
	$(CARGO) build --release --bin hyrank

fmt:
	$(CARGO) fmt --all

## Generator speed and memory at the issue's scale (100k products, 1M events).
bench-generate: build
	$(HYRANK) bench generate --out out/bench-world --products 100000 --queries 5000 --events 1000000

## The pinned Python environment of the peers (ranx, pytrec_eval, ...). Benchmarks only.
bench-env: bench/.venv/.done
bench/.venv/.done: bench/requirements.txt
	python3 -m venv bench/.venv
	bench/.venv/bin/pip install --quiet --upgrade pip
	bench/.venv/bin/pip install --quiet -r bench/requirements.txt
	touch $@

## Every side-by-side comparison with a peer, in one run; writes docs/benchmarks.md.
## Needs the 100k bench world (made here if absent) and the model.
bench: build bench-env
	test -f out/bench-world/catalog.ndjson || $(HYRANK) bench generate --out out/bench-world --products 100000 --queries 5000 --events 1000000
	$(HYRANK) model fetch
	$(HYRANK) bench eval --dir out/bench-eval --repeat 1 >/dev/null
	bench/.venv/bin/python bench/run.py

## Retrieval tuned on judgments, measured on held-out folds: Cranfield 1400
## (from ../shared/data) and the demo world (made by `make demo` if absent).
tune-measure: build
	$(HYRANK) model fetch
	$(HYRANK) data convert --from cranfield --input ../shared/data/cranfield --out out/cranfield
	$(HYRANK) index build --catalog out/cranfield/catalog.ndjson --out out/cranfield/index --embed-text title-description
	$(HYRANK) tune --index out/cranfield/index --queries out/cranfield/queries.tsv --qrels out/cranfield/qrels.trec \
		--out out/cranfield/tuned.json --report out/cranfield/tune-report.json
	test -f $(DEMO_DIR)/index/manifest.json || $(MAKE) demo
	$(HYRANK) tune --index $(DEMO_DIR)/index --queries $(DEMO_DIR)/queries.tsv --qrels $(DEMO_DIR)/qrels.trec \
		--out $(DEMO_DIR)/tuned.json --report $(DEMO_DIR)/tune-report.json

clean:
	rm -rf out
