# The course's commands. On a fresh clone: `make course` (the main job) and `make test`.
# Every target is idempotent; the only prerequisites are python3 (>= 3.10) and make.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Python 3.13 (Colab's) for the Colab-like run and the newest-releases run; pyenv installs may lack a working shim.
PY313  ?= $(shell (python3.13 -c 'import sys' >/dev/null 2>&1 && command -v python3.13) || ls -d $$HOME/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null | tail -n 1)
VENV_COMPAT := .venv-compat
# Colab's preinstalled versions (tests/colab/requirements.txt); the course itself is installed by the setup cell.
VENV_COLAB := .venv-colab
COLAB_PINS := tests/colab/requirements.txt
# The benchmarks' peers (Open-Unmix, HT Demucs) need PyTorch: a separate environment, never the course's.
VENV_BENCH := .venv-bench
# The models under JAX with the oldest Keras the course supports (Colab's; pyproject.toml's floor), no TensorFlow.
VENV_JAX := .venv-jax
JAX_PACKAGES := keras==3.13.2 jax[cpu]==0.8.2 numpy scipy h5py soundfile soxr pytest
BENCH_PACKAGES := torch==2.13.0 numpy soundfile tqdm einops==0.8.2 julius==0.2.8

# The SoundFont renderer (helpers.songs.soundfont_engine). Its wheel declares PyAudio for live playback, which the
# course never uses and which needs PortAudio's headers to build, so it is installed without its dependencies.
SOUNDFONT_RENDERER := tinysoundfont==0.3.7
# The recorded sounds the songs are played from: the General MIDI banks (MIT; Fluid R3 for training and testing,
# MuseScore General for the held-out splits), the AVL recorded drum kits (CC-BY-SA 3.0; one for training, one held
# out) and Sonic Pi's recorded loops (CC0).
BANK_PACKAGES := fluid-soundfont-gm musescore-general-soundfont avldrums.lv2-soundfont sonic-pi-samples

export FAST ?= 1
export PYTHONHASHSEED = 0
export TF_CPP_MIN_LOG_LEVEL = 2
export KERAS_BACKEND ?= tensorflow

.PHONY: banks clean-data pretrained-wave setup test test-colab test-compat test-jax test-distributed test-browser browser app bench-app course data pretrained bench lab clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python >= 3.10 is required, found " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[dev,app,lab]'
	$(PY) -m pip install --disable-pip-version-check -q --no-deps $(SOUNDFONT_RENDERER)
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

# Install the banks where apt runs as root (Debian, Ubuntu, Colab); elsewhere say what to do, and `make data` falls
# back to the NumPy synthesizer (with one line saying so).
banks:
	@$(PY) -c 'from helpers.songs import soundfont_engine as s; import sys; sys.exit(any(s.missing(x) or s.optional_missing(x) for x in s.STYLES))' 2>/dev/null \
		|| { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BANK_PACKAGES) >/dev/null; \
		else echo "banks: install $(BANK_PACKAGES) (or set COURSE_SOUNDFONTS); without them the data is NumPy-synthesised"; fi; }

data: setup banks
	$(PY) -m helpers.songs

test: setup banks
	$(PY) -m pytest tests notebooks --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg

# The unit tests on Python 3.13 with the newest release of every dependency (librosa 1.x).
test-compat:
	@test -n "$(PY313)" || { if [ "$$CI" = true ]; then echo "python3.13 not found: CI needs the compatibility run" >&2; \
		exit 1; fi; echo "python3.13 not found; skipping the compatibility run"; exit 0; }
	@test -x $(VENV_COMPAT)/bin/python || $(PY313) -m venv $(VENV_COMPAT)
	@test -f $(VENV_COMPAT)/.installed -a $(VENV_COMPAT)/.installed -nt pyproject.toml || \
		{ $(VENV_COMPAT)/bin/python -m pip install --disable-pip-version-check -q --upgrade -e '.[dev]' && \
		  $(VENV_COMPAT)/bin/python -m pip install --disable-pip-version-check -q --no-deps $(SOUNDFONT_RENDERER) && \
		  touch $(VENV_COMPAT)/.installed; }
	$(VENV_COMPAT)/bin/python -c 'import sys, librosa; print("compat run: Python", sys.version.split()[0], "librosa", librosa.__version__)'
	$(VENV_COMPAT)/bin/python -m pytest tests

# The notebooks in a Colab-like runtime: a fresh Python 3.13 environment with Colab's versions, the course installed
# by the notebooks' own setup cell from a clone of this checkout's last commit (COURSE_REPO=URL for another), each
# notebook standalone; fails if the install changed any of Colab's versions (tests/colab/test_colab.py).
test-colab: banks
	@test -n "$(PY313)" || { if [ "$$CI" = true ]; then echo "python3.13 not found: CI needs the Colab-like run" >&2; \
		exit 1; fi; echo "python3.13 not found; skipping the Colab-like run"; exit 0; }
	rm -rf $(VENV_COLAB) && $(PY313) -m venv $(VENV_COLAB)
	$(VENV_COLAB)/bin/python -m pip install --disable-pip-version-check -q -r $(COLAB_PINS)
	$(VENV_COLAB)/bin/python -m pytest --noconftest -s tests/colab

test-jax:
	@test -x $(VENV_JAX)/bin/python || $(PYTHON) -m venv $(VENV_JAX)
	@test -f $(VENV_JAX)/.installed -a $(VENV_JAX)/.installed -nt pyproject.toml || { \
		$(VENV_JAX)/bin/python -m pip install --disable-pip-version-check -q $(JAX_PACKAGES) && \
		$(VENV_JAX)/bin/python -m pip install --disable-pip-version-check -q --no-deps -e . && \
		touch $(VENV_JAX)/.installed; }
	KERAS_BACKEND=jax $(VENV_JAX)/bin/python -m pytest tests/test_backends.py

# Training on several processes: Keras on JAX (the `distributed` extra, in the course's environment, since a run is
# the whole training command), two worker processes on 127.0.0.1 (tests/distributed).
test-distributed: setup
	@$(PY) -c 'import jax' 2>/dev/null || $(PY) -m pip install --disable-pip-version-check -q -e '.[distributed]'
	KERAS_BACKEND=jax $(PY) -m pytest tests/distributed

# The web app on http://$(HOST):$(PORT)/ (HOST=0.0.0.0 serves a classroom); data in data/app.
HOST ?= 127.0.0.1
PORT ?= 8000
app: setup
	$(PY) -m helpers.app --host $(HOST) --port $(PORT)

# The browser for the app's end-to-end test: Debian's chromium (apt, as root) and Playwright's Python client.
browser: setup
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@$(PY) -c 'import playwright' 2>/dev/null || $(PY) -m pip install --disable-pip-version-check -q 'playwright>=1.40'

test-browser: browser
	REQUIRE_BROWSER=1 $(PY) -m pytest tests/browser

# Train the shipped U-Net (vocals, drums, bass; full band at 44.1 kHz) on the SoundFont songs with remixing
# augmentation, starting from the 22.05-kHz U-Net's weights (same bins and frames); MINUTES_UNET is the budget.
MINUTES_UNET ?= 50
pretrained: data
	$(PY) -m helpers.train --targets vocals drums bass --sample-rate 44100 --n-fft 2048 --hop-length 512 \
		--modelled-bins 512 --initial-model src/helpers/pretrained/unet_vocals_drums.keras --steps-per-epoch 150 \
		--epochs 200 --max-minutes $(MINUTES_UNET) --model-path src/helpers/pretrained/unet_vocals_drums_bass.keras

# Train the shipped Wave-U-Net: the better of the two losses in a fixed time budget (the note and notebook 07 give
# the comparison; WAVE_LOSS picks the loss, MINUTES the budget).
WAVE_LOSS ?= l1
MINUTES ?= 35
pretrained-wave: data
	$(PY) -m helpers.train --model wave-unet --loss $(WAVE_LOSS) --epochs 1000 --patience 10 --max-minutes $(MINUTES) \
		--model-path src/helpers/pretrained/wave_unet_vocals_drums.keras

course: data
	$(PY) -m helpers.course notebooks --out build

# Quality, speed and memory next to the peers: benchmarks/results.md and .json (about 20 minutes on 2 cores).
bench: data
	@test -x $(VENV_BENCH)/bin/python || $(PYTHON) -m venv $(VENV_BENCH)
	@test -f $(VENV_BENCH)/.installed || { \
		$(VENV_BENCH)/bin/python -m pip install --disable-pip-version-check -q $(BENCH_PACKAGES) && \
		$(VENV_BENCH)/bin/python -m pip install --disable-pip-version-check -q --no-deps openunmix==1.3.0 demucs==4.1.0 && \
		touch $(VENV_BENCH)/.installed; }
	$(PY) benchmarks/run.py --peer-python $(VENV_BENCH)/bin/python

# The web app under a class's load: 20 users at once, 1 and 2 workers (benchmarks/results_app.md, about 3 minutes).
bench-app: setup
	$(PY) benchmarks/app_load.py

lab: setup
	$(VENV)/bin/jupyter lab notebooks

clean:
	rm -rf build

# The generated songs, caches, trained models and separations under data/ (about 2.5 GB); `make data` rebuilds them.
clean-data:
	rm -rf data/generated data/cache data/models data/separated data/demo_song.wav
