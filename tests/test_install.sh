#!/usr/bin/env bash
# test_install.sh - the library as another project meets it: `make install` into a temporary
# prefix, then examples/classify_folder.c compiled against the installed header and library
# the way the header tells users to, with pkg-config: once linked to the shared library and
# once statically (`pkg-config --static`, -static: every private dependency must be named,
# down to libpng's zlib), each run on demo/chelsea.png and compared with the example built in
# the tree. Also checks the version and soname the Makefile derives from resnet.h.
# Needs the weights (run by tests/run.sh, which sets RESNET_TEST_V1_CAFFE), pkg-config and
# the static C library (libc6-dev); nothing from ../shared.
set -u
cd "$(dirname "$0")/.."
. tests/common.sh
W=${RESNET_TEST_V1_CAFFE:?run through tests/run.sh}
CC=${CC:-cc}

command -v pkg-config >/dev/null
check "pkg-config is installed" $? "not found: apt-get install pkg-config"

# The tree's own example gives the answer to compare with.
mkdir -p "$tmp/photos"
cp demo/chelsea.png "$tmp/photos/"
want=$("$BUILD/examples/classify_folder" "$W" "$tmp/photos" 2>/dev/null)
[ -n "$want" ]
check "the tree's example classifies demo/chelsea.png" $? "$BUILD/examples/classify_folder printed nothing (make examples)"

prefix=$tmp/usr
make -s install PREFIX="$prefix" BUILD="$BUILD" >"$tmp/install.log" 2>&1
check "make install PREFIX=$prefix" $? "$(tail -n 5 "$tmp/install.log")"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig

major=$(sed -n 's/^#define RESNET_VERSION_MAJOR \([0-9]*\).*/\1/p' include/resnet.h)
minor=$(sed -n 's/^#define RESNET_VERSION_MINOR \([0-9]*\).*/\1/p' include/resnet.h)
patch=$(sed -n 's/^#define RESNET_VERSION_PATCH \([0-9]*\).*/\1/p' include/resnet.h)
pcver=$(pkg-config --modversion resnet 2>&1)
[ "$pcver" = "$major.$minor.$patch" ]
check "pkg-config --modversion resnet is the header's $major.$minor.$patch" $? "got '$pcver'"
soname=$(readelf -d "$prefix/lib/libresnet.so" 2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ "$soname" = "libresnet.so.$major" ] && [ -e "$prefix/lib/libresnet.so.$major" ] &&
  [ "$(readlink "$prefix/lib/libresnet.so")" = "libresnet.so.$major" ]
check "soname libresnet.so.$major, installed with its links" $? "soname '$soname'; $(ls "$prefix/lib" | tr '\n' ' ')"

# Shared: as a user of a system-wide install would, found through LD_LIBRARY_PATH here.
# An ASan build's library needs the sanitizer runtime in the program too.
san=()
[ -n "${SANITIZE:-}" ] && san=(-fsanitize=address,undefined)
# shellcheck disable=SC2046 # pkg-config's output is meant to be split into words
$CC -std=c11 -Wall -Wextra "${san[@]}" -o "$tmp/classify_shared" examples/classify_folder.c \
  $(pkg-config --cflags --libs resnet) >"$tmp/cc.log" 2>&1
check "cc classify_folder.c \$(pkg-config --cflags --libs resnet)" $? "$(head -n 5 "$tmp/cc.log")"
got=$(LD_LIBRARY_PATH=$prefix/lib "$tmp/classify_shared" "$W" "$tmp/photos" 2>"$tmp/err")
[ -n "$want" ] && [ "$got" = "$want" ] &&
  LD_LIBRARY_PATH=$prefix/lib ldd "$tmp/classify_shared" | grep -q "libresnet.so.$major => $prefix/lib/"
check "the shared build loads the installed libresnet.so.$major and gives the tree's answer" $? \
  "got '$got' (want '$want'): $(head -n 3 "$tmp/err")"

# Static: every library the private requirements pull in must be on the line.
if [ -n "${SANITIZE:-}" ]; then
  echo "skip static link: sanitizer builds cannot link statically"
else
  # shellcheck disable=SC2046
  $CC -std=c11 -Wall -Wextra -static -o "$tmp/classify_static" examples/classify_folder.c \
    $(pkg-config --cflags --static --libs resnet) >"$tmp/cc.log" 2>&1
  check "cc -static classify_folder.c \$(pkg-config --cflags --static --libs resnet)" $? \
    "$(grep -v 'statically linked applications' "$tmp/cc.log" | head -n 5)"
  got=$("$tmp/classify_static" "$W" "$tmp/photos" 2>"$tmp/err")
  [ -n "$want" ] && [ "$got" = "$want" ] && ! readelf -d "$tmp/classify_static" 2>/dev/null | grep -q NEEDED
  check "the static build needs no shared library and gives the tree's answer" $? \
    "got '$got' (want '$want'): $(head -n 3 "$tmp/err")"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
