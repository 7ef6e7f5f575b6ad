# One entry point for set-up, the main job and the tests. Every target builds the virtual environment first.
# TORCH_SPEC: the torch requirement installed before everything else (CPU build here; set it, or pre-install
# your own CUDA torch into $(VENV), to keep a GPU build).
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo dicom-demo test test-slicer lint typecheck bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

# The main job: the shipped classifier (untrusted, safe loading) on the embedded sample, an abdomen-like CT with
# both adrenal glands segmented (GAN-drawn): one answer and one heatmap per gland, on the CT's grid; each montage
# shows the heatmap over the CT (the sample's DICOM series) with the gland outlined.
demo: $(STAMP)
	$(BIN)/monai-ext sample --out demo_output/sample
	$(BIN)/monai-ext infer demo_output/sample/adrenal_labels.nrrd --all-labels \
		--background demo_output/sample/ct_dicom \
		--bundle bundles/adrenal_hyperplasia_classifier_3d --out demo_output/infer

# The DICOM tour: a phantom series with traps (oblique, shuffled, mixed series, a missing slice).
dicom-demo: $(STAMP)
	$(BIN)/monai-ext demo --out demo_output/dicom_demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Slicer-facing tests against the real MRML libraries (slicer-core wheel, in its own venv: it pins vtk).
test-slicer:
	bash .ci/slicer_env.sh

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_dicom_load.py
	$(BIN)/python benchmarks/bench_gradcam.py
	$(BIN)/python benchmarks/bench_infer.py
	$(BIN)/python benchmarks/bench_adrenal_embedding.py
	$(BIN)/python benchmarks/bench_autoencoder_scores.py

clean:
	rm -rf $(VENV) .venv-slicer demo_output .pytest_cache .mypy_cache .ruff_cache
