# nosh: one static binary, the host half and the toolbox half.
#
# Quick start: `make demo`, `make test`. Needs the Rust toolchain and a
# running Docker Engine; the tests build their own shell-less images
# (nothing is pulled) and download a few Debian packages once.

SHELL := /bin/bash
CARGO ?= cargo
TRIPLE := x86_64-unknown-linux-gnu
# glibc, linked statically: no musl toolchain needed.
STATIC_RUSTFLAGS := -C target-feature=+crt-static
TARGET_DIR := $(abspath $(or $(CARGO_TARGET_DIR),target))
STATIC_DEV := $(TARGET_DIR)/$(TRIPLE)/static-dev
NOSH_DEV := $(STATIC_DEV)/nosh
DEMO_APP := $(STATIC_DEV)/examples/demo-app
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
TOOLBOX_IMAGE ?= nosh-toolbox:$(VERSION)
# Integration tests share one Docker Engine; two at a time suits small machines.
TEST_THREADS ?= 2

# `make install`: where to, and which binary (INSTALL_BIN skips the release
# build, e.g. INSTALL_BIN=$(NOSH_DEV) for a quick local install).
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR := $(DESTDIR)$(PREFIX)/bin
# The docker CLI looks for plugins here (and in libexec/docker/cli-plugins).
PLUGINDIR := $(DESTDIR)$(PREFIX)/lib/docker/cli-plugins
MANDIR := $(DESTDIR)$(PREFIX)/share/man/man1
BASHDIR := $(DESTDIR)$(PREFIX)/share/bash-completion/completions
ZSHDIR := $(DESTDIR)$(PREFIX)/share/zsh/site-functions
FISHDIR := $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d

.PHONY: all build static-dev static test test-deps fuzz lint toolbox-image demo bench clean install uninstall

all: build

## build: the debug binary (dynamically linked, for quick iteration)
build:
	$(CARGO) build

## static-dev: the static binary the tests and the demo use, and the static demo-app
static-dev:
	RUSTFLAGS='$(STATIC_RUSTFLAGS)' $(CARGO) build --profile static-dev \
		--target $(TRIPLE) --bin nosh --example demo-app

## static: the release binary in dist/nosh, checked to be static
static:
	RUSTFLAGS='$(STATIC_RUSTFLAGS)' $(CARGO) build --release --target $(TRIPLE) --bin nosh
	mkdir -p dist
	cp $(TARGET_DIR)/$(TRIPLE)/release/nosh dist/nosh
	@bytes=$$(stat -c %s dist/nosh); \
		echo "dist/nosh: $$bytes bytes ($$(awk "BEGIN { printf \"%.2f\", $$bytes / 1048576 }") MB)"
	@file dist/nosh
	@file dist/nosh | grep -Eq 'static-pie linked|statically linked' \
		|| { echo "dist/nosh is not statically linked" >&2; exit 1; }
	@! ldd dist/nosh 2>/dev/null | grep -q '=>' \
		|| { echo "dist/nosh needs shared libraries" >&2; exit 1; }

## test-deps: the programs the tests use (installed when root, else the command to run)
test-deps:
	scripts/test-deps.sh

## test: unit, namespace and Docker integration tests against the static binary
test: test-deps static-dev
	NOSH_BIN=$(NOSH_DEV) NOSH_DEMO_APP=$(DEMO_APP) \
		$(CARGO) test --no-fail-fast -- --test-threads=$(TEST_THREADS)

## fuzz: every parser of target data on FUZZ_CASES generated inputs each (debug
## build: integer overflow panics too); `make test` runs 256 of them
FUZZ_CASES ?= 100000
fuzz:
	PROPTEST_CASES=$(FUZZ_CASES) $(CARGO) test --lib fuzz_ -- --nocapture --test-threads=$(TEST_THREADS)

## lint: clippy with warnings as errors, and rustfmt
lint:
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) fmt --check

## toolbox-image: the toolbox image for registries and Kubernetes (toolbox/Dockerfile);
## WITH=curl,strace adds this host's programs as brought tools (/.nosh/tools)
toolbox-image: static
	rm -rf $(TARGET_DIR)/toolbox-context
	mkdir -p $(TARGET_DIR)/toolbox-context/.nosh
	cp dist/nosh $(TARGET_DIR)/toolbox-context/.nosh/nosh
	ln -s .nosh/nosh $(TARGET_DIR)/toolbox-context/nosh
	$(if $(WITH),dist/nosh bundle --with $(WITH) $(TARGET_DIR)/toolbox-context/.nosh/tools)
	DOCKER_BUILDKIT=0 docker build -q -f toolbox/Dockerfile \
		-t $(TOOLBOX_IMAGE) $(TARGET_DIR)/toolbox-context
	@docker image inspect --format '{{.Id}} {{.Size}} bytes' $(TOOLBOX_IMAGE)

## demo: a shell-less app as uid 65532 (container nosh-demo), and nosh beside it
demo: static-dev
	NOSH_BIN=$(NOSH_DEV) NOSH_DEMO_APP=$(DEMO_APP) scripts/demo.sh

## bench: attach latency, builtins against the usual tools, image size
bench: static-dev
	NOSH_BIN=$(NOSH_DEV) bench/run.sh

## install: nosh, the `docker nosh` plugin link, nosh(1) and completions (PREFIX, DESTDIR)
install: $(if $(INSTALL_BIN),,static)
	$(eval BIN := $(or $(INSTALL_BIN),dist/nosh))
	install -d $(BINDIR) $(PLUGINDIR) $(MANDIR) $(BASHDIR) $(ZSHDIR) $(FISHDIR)
	install -m 0755 $(BIN) $(BINDIR)/nosh
	ln -sfn ../../../bin/nosh $(PLUGINDIR)/docker-nosh
	$(BIN) man > $(MANDIR)/nosh.1
	$(BIN) completions bash > $(BASHDIR)/nosh
	$(BIN) completions zsh > $(ZSHDIR)/_nosh
	$(BIN) completions fish > $(FISHDIR)/nosh.fish

## uninstall: remove what `make install` laid out
uninstall:
	rm -f $(BINDIR)/nosh $(PLUGINDIR)/docker-nosh $(MANDIR)/nosh.1 \
		$(BASHDIR)/nosh $(ZSHDIR)/_nosh $(FISHDIR)/nosh.fish

## clean: build outputs, test containers and fixture images
clean:
	-docker ps -aq --filter label=io.nosh.test=1 | xargs -r docker rm -f
	-docker images --format '{{.Repository}}:{{.Tag}}' | grep '^nosh-fixture-' | xargs -r docker rmi
	-docker rm -f nosh-demo
	rm -rf dist
	$(CARGO) clean
