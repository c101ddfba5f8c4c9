# Thin wrapper over CMake. The real build is CMakeLists.txt.
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build test demo bench fuzz sanitize clean setup

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

setup:
	bash scripts/setup.sh

# Every test: unit tests (ctest), the sanitizer build of the format tests,
# and the Python reference checks.
test: setup build
	bash scripts/test.sh

demo: setup build
	bash scripts/demo.sh

bench: setup build
	bash scripts/bench.sh

fuzz:
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) build-asan build-fuzz

# ---- install and package (docs/embedding.md) ---------------------------------
# make install PREFIX=/opt/f8: bin/f8, lib/libf8.so*, include/f8.h, lib/pkgconfig,
# lib/cmake/f8. make deb: $(BUILD)/f8_<version>_<arch>.deb (cpack).
PREFIX ?= /usr/local
.PHONY: install deb
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)
deb: build
	cd $(BUILD) && cpack -G DEB
