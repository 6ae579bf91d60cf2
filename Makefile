# DinoSeg. `make demo` runs the whole pipeline on a synthetic dataset; `make test` runs the tests.
SWIFT ?= swift
RELEASE := $(SWIFT) build -c release
BIN := .build/release
APT_PACKAGES := libopenblas0 libdnnl-dev libhdf5-dev libpng-dev libjpeg-dev pkg-config libopenmpi-dev openmpi-bin

.PHONY: setup deps build release test test-debug fuzz bench bench-baseline demo demo-datasets voc voc-baseline clean fixtures

# Installs the C libraries (Debian packages) and Open MPI's mpirun when one is missing, then builds. OpenBLAS is loaded
# at run time (README "CPU and BLAS"), so only its shared library is needed.
deps:
	@if [ ! -e /usr/include/hdf5/serial/hdf5.h ] || [ ! -e /usr/include/png.h ] || [ ! -e /usr/include/jpeglib.h ] \
	   || ! { ls /usr/lib/*/libopenblas.so.0 || ls /usr/lib/libopenblas.so.0; } >/dev/null 2>&1 \
	   || [ ! -e /usr/include/oneapi/dnnl/dnnl.h ] \
	   || [ ! -e /usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h ] || ! command -v mpirun >/dev/null; then \
	  echo "Installing $(APT_PACKAGES)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES); \
	fi

setup: deps release

build: deps
	$(SWIFT) build

release: deps
	$(RELEASE)

test: deps
	$(SWIFT) build --build-tests -c release -Xswiftc -enable-testing
	$(SWIFT) test -c release -Xswiftc -enable-testing --skip-build --disable-swift-testing
	$(MAKE) test-debug

# The tests of everything that parses or reads files, once more in a debug build (every assert and bounds check on,
# no optimiser assumptions). The numeric suites are left out: unoptimised they take many minutes and parse nothing.
DEBUG_TESTS := BadInputTests|DatasetDescriptionTests|RunIntegrityTests|DirectoryLockTests|AtomicWriteTests|FuzzTests|ImageIOTests|ImageInputTests|ImageVariantTests|SafetensorsValidationTests|HDF5Tests|WriteFailureTests|DatasetTests|TrainCacheTests|ValCacheTests|ExtractDataCLITests|SupportTests|VOCCheckTests|BackboneSeamTests|testUnlistedShardsAreAdoptedOrRedone|testEvaluationFlagsAreBounded|TestHelperTests|HeadVariantTests|testStoredValuesMapToClassesAndUndefinedOnesAreRefused|testCheckCountsPairsAndValues|FolderLayoutTests
test-debug: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing --filter '$(DEBUG_TESTS)'

# Each fuzz driver (safetensors, JPEG, PNG, label PNG, train shard, val shard, manifest, weights config.json, log.jsonl,
# sweep job files, baseline run files, head and baseline checkpoints) for FUZZ_SECONDS seconds; prints inputs run and
# time per driver. A crash stops the run; the input that caused it is named at the driver's start. An input running
# longer than FUZZ_INPUT_SECONDS (30) or a process past FUZZ_MAX_RSS_MB (3072) stops it too, naming the input.
FUZZ_SECONDS ?= 60
FUZZ_SEED ?= 1
fuzz: deps
	$(SWIFT) build --build-tests -c release -Xswiftc -enable-testing
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_SEED=$(FUZZ_SEED) $(SWIFT) test -c release -Xswiftc -enable-testing --skip-build \
	  --disable-swift-testing --filter FuzzTests

clean:
	rm -rf .build

# Benchmarks, each line naming the CPU, the kernel path, the precision and the ratio against every installed peer
# (PyTorch eager fp32 and autocast bf16, OpenVINO, ONNX Runtime: `scripts/setup_peers.sh` installs them in a venv; a
# missing peer is reported, never an error): the GEMM ceilings (BLAS sgemm, oneDNN f32 and bf16), the tiny backbone at
# 224, then a training step of FPN + PPM + head at output stride 8, widths 256/512/1024, batches 8 and 32, at each
# precision of BENCH_PRECISIONS (auto = bf16 where the CPU has it natively, else fp32 again).
# `make bench-baseline` times the ResNet-50 PSPNet baseline's training step (crop BENCH_CROP, batch BENCH_BATCH).
# They measure DinoSeg's own BLAS kernel choice, so an OPENBLAS_CORETYPE in the environment is dropped for them (on an
# AVX-512 CPU a global OPENBLAS_CORETYPE=Haswell halves sgemm); `make bench BENCH_ENV=` keeps the environment as it is.
BENCH_CROP ?= 473
BENCH_BATCH ?= 2
BENCH_ENV ?= env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE
BENCH_PRECISIONS ?= fp32 auto
bench: release
	$(BENCH_ENV) $(BIN)/extract bench --gemm
	for p in $(BENCH_PRECISIONS); do $(BENCH_ENV) $(BIN)/extract bench --precision $$p || exit 1; done
	for p in $(BENCH_PRECISIONS); do for w in 256 512 1024; do for b in 8 32; do \
	  $(BENCH_ENV) $(BIN)/headtrain bench --precision $$p --fpn-width $$w --output-stride 8 --batch $$b || exit 1; done; done; done

bench-baseline: release
	for p in $(BENCH_PRECISIONS); do \
	  $(BENCH_ENV) $(BIN)/headtrain bench --baseline --precision $$p --crop $(BENCH_CROP) --batch $(BENCH_BATCH) --steps 2 || exit 1; done

# Regenerates the reference fixtures with transformers / PyTorch (pip install torch transformers safetensors).
# The golden-small fixture is a copy of shared/golden/small, made by the same script with its defaults.
# The bf16 ones (head_bf16_os8 from make_head_fixture.py, bf16_golden_small) hold PyTorch autocast outputs, which
# depend on the torch version (recorded in their metadata).
FIXTURES := Tests/DinoSegTests/Fixtures
fixtures:
	python3 scripts/make_backbone_fixture.py $(FIXTURES)/golden-odd --hidden-sizes 12,20,36,44 --depths 1,2,1,1 \
	  --height 71 --width 99 --seed 7
	python3 scripts/make_head_fixture.py
	python3 scripts/make_pspnet_fixture.py
	python3 scripts/bf16_backbone_error.py $(FIXTURES)/golden-small --write $(FIXTURES)/bf16_golden_small.safetensors

# ---------------------------------------------------------------------------------------------------------------
# The demo: the whole pipeline on a synthetic dataset with a RANDOM-WEIGHT tiny backbone (no downloads needed).
# Every number it prints is labelled RANDOM-WEIGHT BACKBONE / synthetic: it shows the machinery works, nothing more.
DEMO_DIR ?= demo
DEMO_TRAIN ?= 64
DEMO_VAL ?= 16
DEMO_VIEWS ?= 2
DEMO_EPOCHS ?= 6
DEMO_EVAL_EVERY ?= 3
DEMO_WIDTHS ?= 64,128
DEMO_VARIANTS ?= head,ppm,fpn,fpn-ppm
DEMO_THREADS ?= $(shell nproc 2>/dev/null || echo 2)
DEMO_BASELINE_IMAGES ?= 16
DEMO_SWEEP = $(BIN)/headtrain sweep --cache $(DEMO_DIR)/cache/train --val-cache $(DEMO_DIR)/cache/val \
  --run $(DEMO_DIR)/runs/sweep --variants $(DEMO_VARIANTS) --widths $(DEMO_WIDTHS) --epochs $(DEMO_EPOCHS) --batch 16 \
  --eval-every $(DEMO_EVAL_EVERY) --threads $(DEMO_THREADS)

demo: deps release
	@start=$$(date +%s); set -e; \
	echo "== DinoSeg demo: synthetic data, RANDOM-WEIGHT tiny backbone (the numbers only show that the pipeline works)"; \
	echo "== [1/9] synthetic dataset ($(DEMO_TRAIN) train + $(DEMO_VAL) val images) → $(DEMO_DIR)/data"; \
	$(BIN)/extract synth --out $(DEMO_DIR)/data --train $(DEMO_TRAIN) --val $(DEMO_VAL); \
	echo "== [2/9] RANDOM-WEIGHT tiny backbone → $(DEMO_DIR)/random-tiny"; \
	[ -f $(DEMO_DIR)/random-tiny/model.safetensors ] || $(BIN)/extract random-weights --size tiny --out $(DEMO_DIR)/random-tiny; \
	echo "== [3/9] train features: $(DEMO_VIEWS) augmented views per image → $(DEMO_DIR)/cache/train"; \
	$(BIN)/extract train --data $(DEMO_DIR)/data --list $(DEMO_DIR)/data/ImageSets/Segmentation/train.txt \
	  --weights $(DEMO_DIR)/random-tiny --views $(DEMO_VIEWS) --stages 1,2,3 --out $(DEMO_DIR)/cache/train; \
	echo "== [4/9] val windows (slide 224, stride 150, flip) → $(DEMO_DIR)/cache/val"; \
	$(BIN)/extract val --data $(DEMO_DIR)/data --list $(DEMO_DIR)/data/ImageSets/Segmentation/val.txt \
	  --weights $(DEMO_DIR)/random-tiny --mode slide --flip --stages 1,2,3 --out $(DEMO_DIR)/cache/val; \
	echo "== [5/9] sweep: variants $(DEMO_VARIANTS), FPN widths $(DEMO_WIDTHS), $(DEMO_EPOCHS) epochs"; \
	$(DEMO_SWEEP); \
	best=$$(cat $(DEMO_DIR)/runs/sweep/best.txt); \
	echo "== [6/9] eval of the best head ($$best)"; \
	$(BIN)/headtrain eval --run $$best --val-cache $(DEMO_DIR)/cache/val; \
	echo "== [7/9] predict three val photos"; \
	$(BIN)/headtrain predict --run $$best --weights $(DEMO_DIR)/random-tiny --out $(DEMO_DIR)/predictions \
	  $$(head -n 3 $(DEMO_DIR)/data/ImageSets/Segmentation/val.txt | sed 's|^|$(DEMO_DIR)/data/JPEGImages/|; s|$$|.jpg|'); \
	echo "== [8/9] tiny ResNet PSPNet baseline from images (widths/16, 1 block per stage, random init, $(DEMO_BASELINE_IMAGES) images, crop 97, 1 epoch, evaluated on the $(DEMO_VAL) val images; the numbers only show that it runs)"; \
	head -n $(DEMO_BASELINE_IMAGES) $(DEMO_DIR)/data/ImageSets/Segmentation/train.txt > $(DEMO_DIR)/data/ImageSets/Segmentation/baseline-train.txt; \
	[ -f $(DEMO_DIR)/runs/baseline/last.safetensors ] || $(BIN)/headtrain baseline train --data $(DEMO_DIR)/data --list baseline-train \
	  --run $(DEMO_DIR)/runs/baseline --width-divisor 16 --blocks 1,1,1,1 --crop 97 --batch 8 --epochs 1 --threads $(DEMO_THREADS) --log-interval 1; \
	$(BIN)/headtrain baseline eval --run $(DEMO_DIR)/runs/baseline --data $(DEMO_DIR)/data --list val \
	  --crop 97 --stride 65 --long-side 192 --threads $(DEMO_THREADS) | sed -n 2,3p; \
	echo "== [9/9] the sweep's tables and report once more, with the baseline's row (evaluated on the same val images)"; \
	$(DEMO_SWEEP) --baseline $(DEMO_DIR)/runs/baseline | tail -n 3; \
	echo; echo "Demo finished in $$(( $$(date +%s) - start )) s (RANDOM-WEIGHT BACKBONE, synthetic data)."; \
	echo "Report:      $(DEMO_DIR)/runs/sweep/report.html"; \
	echo "Results:     $(DEMO_DIR)/runs/sweep/results.md"; \
	echo "Predictions: $(DEMO_DIR)/predictions/"

# The other dataset layouts end to end on their synthetic sets (no downloads): for each, synth → train and val
# features → a small FPN head trained with evaluation → predict one val photo. RANDOM-WEIGHT backbone, as above.
DEMO_LAYOUTS ?= ade20k cityscapes folder
demo-datasets: deps release
	@start=$$(date +%s); set -e; \
	[ -f $(DEMO_DIR)/random-tiny/model.safetensors ] || $(BIN)/extract random-weights --size tiny --out $(DEMO_DIR)/random-tiny; \
	for layout in $(DEMO_LAYOUTS); do \
	  d=$(DEMO_DIR)/datasets/$$layout; \
	  echo "== $$layout: synthetic data → $$d/data"; \
	  $(BIN)/extract synth --layout $$layout --out $$d/data --train 16 --val 4 --min-side 256 --max-side 512; \
	  $(BIN)/extract train --data $$d/data --list train --weights $(DEMO_DIR)/random-tiny --stages 1,2,3 --out $$d/cache/train | tail -n 1; \
	  $(BIN)/extract val --data $$d/data --list val --weights $(DEMO_DIR)/random-tiny --stages 1,2,3 --out $$d/cache/val | tail -n 1; \
	  $(BIN)/headtrain train --cache $$d/cache/train --val-cache $$d/cache/val --run $$d/runs/fpn --fpn-width 64 \
	    --epochs 2 --batch 8 --eval-every 2 --threads $(DEMO_THREADS) | grep -E "mIoU|classes" | tail -n 2; \
	  photo=$$(find $$d/data \( -path '*validation*' -o -path '*leftImg8bit/val*' -o -path '*/images/*' \) -type f | sort | tail -n 1); \
	  $(BIN)/headtrain predict --run $$d/runs/fpn --weights $(DEMO_DIR)/random-tiny $$photo | tail -n 1; \
	done; \
	echo "Dataset demo finished in $$(( $$(date +%s) - start )) s (RANDOM-WEIGHT BACKBONE, synthetic data)."

# ---------------------------------------------------------------------------------------------------------------
# The real experiment: make voc VOC=/path/to/VOCdevkit/VOC2012 WEIGHTS=/path/to/dinov3-convnext-tiny-pretrain-lvd1689m
# Needs VOC 2012 + SBD (SegmentationClassAug, train_aug list; SBD=DIR if not under VOC) and the DINOv3 weights.
# See README "make voc" for time and disk.
VOC_VIEWS ?= 8
VOC_EPOCHS ?= 50
VOC_WIDTHS ?= 256,512,768,1024,2048
VOC_VARIANTS ?= head,ppm,fpn,fpn-ppm
VOC_CACHE ?= cache/voc
VOC_RUN ?= runs/voc
VOC_OS ?= 8
# bf16 matrix multiplies where the CPU has them natively, else fp32 (README "Precision": same accuracy within the
# seed spread, 1.6-1.9x faster on AVX512-BF16 CPUs). VOC_PRECISION=fp32 for the reference arithmetic.
VOC_PRECISION ?= auto
# Output stride 8 reads stages 1-3 only; stride 4 (what the published code ran) also needs stage 0 (53% of the bytes).
VOC_STAGES_8 := 1,2,3
VOC_STAGES_4 := 0,1,2,3
VOC_STAGES ?= $(VOC_STAGES_$(VOC_OS))
# On a cluster: VOC_LAUNCH="mpirun" (inside a Slurm allocation or with a hostfile) or "srun --mpi=pmix" spreads the
# extraction's shards and the sweep's jobs over the processes (README "Distributed").
VOC_LAUNCH ?=

# The sweep of `make voc`; with BASELINE=1 it runs once more after the baseline stage, which only rewrites the tables
# and the report with the baseline rows (every job is finished by then).
VOC_SWEEP = $(VOC_LAUNCH) $(BIN)/headtrain sweep --cache $(VOC_CACHE)-train --val-cache $(VOC_CACHE)-val --run $(VOC_RUN) \
	  --variants $(VOC_VARIANTS) --widths $(VOC_WIDTHS) --epochs $(VOC_EPOCHS) --output-stride $(VOC_OS) --eval-every 25 \
	  --precision $(VOC_PRECISION)

voc: deps release
	@if [ -z "$(VOC)" ] || [ -z "$(WEIGHTS)" ]; then \
	  echo "usage: make voc VOC=/path/to/VOC2012 WEIGHTS=/path/to/dinov3-convnext-tiny (see README)"; exit 2; fi
	$(BIN)/extract check-voc $(VOC) $(if $(SBD),--sbd $(SBD))
	$(VOC_LAUNCH) $(BIN)/extract train --data $(VOC) --list $(VOC)/ImageSets/Segmentation/train_aug.txt --weights $(WEIGHTS) \
	  --views $(VOC_VIEWS) --stages $(VOC_STAGES) --precision $(VOC_PRECISION) --out $(VOC_CACHE)-train
	$(VOC_LAUNCH) $(BIN)/extract val --data $(VOC) --list $(VOC)/ImageSets/Segmentation/val.txt --weights $(WEIGHTS) \
	  --mode slide --flip --stages $(VOC_STAGES) --precision $(VOC_PRECISION) --out $(VOC_CACHE)-val
	$(VOC_SWEEP)
	@if [ -n "$(BASELINE)" ]; then $(MAKE) voc-baseline && \
	  $(VOC_SWEEP) $(foreach os,$(BASELINE_OS),--baseline $(VOC_RUN)/baseline-os$(os)); fi
	@echo "Report: $(VOC_RUN)/report.html   Results: $(VOC_RUN)/results.md"

# Optional baseline stage (make voc ... BASELINE=1, or make voc-baseline VOC=... RESNET=...): semseg's ResNet-50
# PSPNet trained end to end (rows 6 and 7 of the published table: output strides 8 and 32), evaluated with the same
# protocol. RESNET = ImageNet ResNet-50 weights as safetensors (see README); BASELINE_STEM=torchvision for torchvision's.
BASELINE_CROP ?= 473
BASELINE_EPOCHS ?= 50
BASELINE_STEM ?= deep
BASELINE_OS ?= 8 32
voc-baseline: deps release
	@if [ -z "$(VOC)" ] || [ -z "$(RESNET)" ]; then \
	  echo "usage: make voc-baseline VOC=/path/to/VOC2012 RESNET=/path/to/resnet50.safetensors (see README)"; exit 2; fi
	for os in $(BASELINE_OS); do \
	  run=$(VOC_RUN)/baseline-os$$os; \
	  if [ -f $$run/last.safetensors ]; then resume=--resume; else resume=; fi; \
	  $(BIN)/headtrain baseline train --data $(VOC) --list train_aug --run $$run --weights $(RESNET) --stem $(BASELINE_STEM) \
	    --output-stride $$os --crop $(BASELINE_CROP) --epochs $(BASELINE_EPOCHS) --precision $(VOC_PRECISION) $$resume || exit 1; \
	  $(BIN)/headtrain baseline eval --run $$run --data $(VOC) --list val --precision $(VOC_PRECISION) || exit 1; \
	done
