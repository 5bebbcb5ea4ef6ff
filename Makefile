# One command runs the product, one runs its tests. Needs Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install lint format sandbox-image sandbox-base app-image clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# DEBUG is off unless DJANGO_DEBUG=1 is given (a learner who mistypes a URL sees our 404
# page, not Django's list of URLs); plain HTTP on this machine, so no HTTPS redirect.
RUN_ENV := DJANGO_DEBUG=$${DJANGO_DEBUG:-0} DJANGO_HTTPS=$${DJANGO_HTTPS:-0}

run: $(STAMP)
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py load_quizbank
	$(RUN_ENV) $(PY) manage.py collectstatic --noinput --verbosity 0
	$(RUN_ENV) $(PY) manage.py serve

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# The offline base (Debian packages, no registry), then the image on top of it.
# TORCH=cuda builds the GPU hosts' image: the same torch version built for CUDA, under its
# own tag (resnet-sandbox:<hash>-cuda); workers pick it with SANDBOX_TORCH=cuda.
TORCH ?= cpu
sandbox-base:
	bash sandbox/build_base.sh

sandbox-image: $(STAMP) sandbox-base
	$(PY) -m sandbox build-image --torch $(TORCH)

# The app image (web, workers, beat: the Dockerfile at the root) on the same offline base,
# built with no network: pip downloads every wheel it installs on this host first (its own
# configuration applies, such as a local folder of wheels for torch's CPU build).
# async-timeout: redis needs it below Python 3.11.3, as Debian's 3.11.2 is; pip here
# decides markers for this host's Python.
APP_IMAGE ?= resnet-prep-app
app-image: $(STAMP) sandbox-base
	find wheels -type f ! -name README.md -delete
	$(PY) -m pip download --quiet --prefer-binary -d wheels . 'setuptools>=68' wheel \
		'async-timeout>=4.0.3'
	docker build --network none -t $(APP_IMAGE) --build-arg BASE=resnet-sandbox-base:bookworm \
		--build-arg PIP_FLAGS="--no-index --find-links /tmp/wheels" .

clean:
	rm -rf $(VENV) var
