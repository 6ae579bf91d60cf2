# DinoSeg. `make demo` runs the whole pipeline on a synthetic dataset; `make test` runs the tests.
SWIFT ?= swift
RELEASE := $(SWIFT) build -c release
BIN := .build/release
APT_PACKAGES := libopenblas-dev libhdf5-dev libpng-dev libjpeg-dev pkg-config

.PHONY: setup deps build release test bench demo voc clean fixtures

# Installs the C libraries (Debian -dev packages) when a header is missing, then builds.
deps:
	@if [ ! -e /usr/include/hdf5/serial/hdf5.h ] || [ ! -e /usr/include/png.h ] || [ ! -e /usr/include/jpeglib.h ] \
	   || ! ls /usr/include/*/cblas.h /usr/include/cblas.h >/dev/null 2>&1; then \
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

clean:
	rm -rf .build
