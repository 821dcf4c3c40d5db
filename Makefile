# imgpipe's day-to-day commands. The local cloud runs without Docker: moto's server and
# `cargo lambda watch`, both from PyPI, in the project virtualenv (.venv).

SHELL := /bin/bash
PYTHON := .venv/bin/python
STATE ?= .imgpipe
LOCALCLOUD := infra/local/localcloud.py
PHOTOS ?=
# moto (default, no Docker) or localstack (needs Docker; see infra/docker-compose.yml)
EMULATOR ?= moto
export IMGPIPE_EMULATOR := $(EMULATOR)

.PHONY: demo test load up down logs status venv build validate deploy destroy bench reprocess redrive smoke-arm64

## make demo: bring the local cloud up, upload the photos, show what the pipeline made of them
demo: up
	@$(PYTHON) infra/local/demo.py --state-dir $(STATE) $(PHOTOS)

## make test: unit tests plus the end-to-end suite on a fresh local cloud of its own
test:
	@infra/local/test.sh

## make load: N photos (default 500: valid, invalid, duplicated, deleted at once) through a local
## cloud of its own (.imgpipe/load, torn down afterwards); checks every outcome and the DLQ, prints
## photos/s and p50/p95 latency. `make load LOAD_CLOUD=up` uses the running `make up` cloud instead.
N ?= 500
LOAD_CLOUD ?= own
load: venv build
	@$(PYTHON) infra/local/load.py -n $(N) $(if $(filter up,$(LOAD_CLOUD)),--state-dir $(STATE),--own-cloud --state-dir $(STATE)/load)

## make up: start the local cloud in the background; returns once it is ready. On a cloud that is
## already up, changed IMGPIPE_* settings (IMGPIPE_VARIANTS=... make up) restart its functions
## with them, keeping buckets, table and queues.
up: venv build
	@$(PYTHON) $(LOCALCLOUD) up --state-dir $(STATE)

## make reprocess: `imgpipe reprocess` against the running local cloud, judged by the settings its
## function runs with (change them with `IMGPIPE_VARIANTS=... make up`). ARGS="--dry-run",
## "--all", "--prefix P", "--rate N".
ARGS ?=
reprocess: build
	@infra/local/with-cloud.sh $(STATE) target/local/imgpipe reprocess $(ARGS)

## make redrive: `imgpipe redrive` against the running local cloud (ARGS="--dry-run" to look first)
redrive: build
	@infra/local/with-cloud.sh $(STATE) target/local/imgpipe redrive $(ARGS)

## make down: stop everything `make up` started
down:
	@python3 $(LOCALCLOUD) down --state-dir $(STATE)

## make logs: follow the local cloud's logs (moto, the functions, the bridge)
logs:
	@tail -n 40 -F $(STATE)/logs/*.log

## make validate: cfn-lint, sam validate --lint (offline, dummy credentials) and the drift test
validate: venv
	@infra/validate.sh

## make deploy: sam build + sam deploy (--guided the first time, which writes samconfig.toml)
deploy: venv
	@infra/deploy.sh

## make smoke-arm64: build the arm64 bootstrap `make deploy` ships (about 12 minutes cold) and run it
## once under qemu against a stand-in Lambda runtime API and a moto of its own; not in make test
smoke-arm64:
	@infra/smoke-arm64.sh

## make destroy: delete the deployed stack (the images table is retained)
destroy: venv
	@PATH="$(CURDIR)/.venv/bin:$$PATH" SAM_CLI_TELEMETRY=0 sam delete

## make bench: imgpipe against sharp and libvips (JPEG) and Pillow + pillow-heif (HEIC, AVIF) on one
## core; prints two tables, the init times, then the JPEG quality table (bytes at equal
## SSIMULACRA2; QUALITY=0 skips it)
bench:
	@bench/compare.sh

status:
	@python3 $(LOCALCLOUD) status --state-dir $(STATE)

venv:
	@infra/local/venv.sh

# The functions in the profile the local cloud and the tests share (see Cargo.toml).
build:
	@infra/local/build-tools.sh
	@echo "building the functions (profile local; the first build takes a few minutes) ..."
	@cargo build --profile local --bins
