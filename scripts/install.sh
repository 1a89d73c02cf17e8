#!/usr/bin/env bash
# Installs testdispatch for daily use: a native (Native AOT) build, which starts a CLI call in ~25 ms
# where the JIT build of `dotnet build`/`dotnet run` takes ~120–200 ms.
#
#   scripts/install.sh [PREFIX]        # default PREFIX: ~/.local
#
# Publishes TestDispatch.Tui to TestDispatch.Tui/bin/Release/net10.0/<rid>/publish/ (what the dispatch
# benchmark measures), copies that to PREFIX/lib/testdispatch/ and links PREFIX/bin/testdispatch to it.
# The background agent is started from the same binary. Native AOT needs a C toolchain (gcc or clang);
# without one this falls back to a ReadyToRun build (precompiled, still JIT-started: ~80 ms).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=${1:-$HOME/.local}

case $(uname -m) in
  x86_64) rid=linux-x64 ;;
  aarch64) rid=linux-arm64 ;;
  *) echo "install: unsupported machine $(uname -m); use 'dotnet run --project TestDispatch.Tui'" >&2; exit 2 ;;
esac

kind=(-p:PublishAot=true)
if ! command -v clang >/dev/null && ! command -v gcc >/dev/null; then
  echo "install: no gcc or clang for Native AOT; making a ReadyToRun build instead (apt-get install clang for the native one)" >&2
  kind=(-p:PublishAot=false -p:PublishReadyToRun=true --self-contained false)
fi

published=$repo/TestDispatch.Tui/bin/Release/net10.0/$rid/publish
rm -rf "$published"
dotnet publish "$repo/TestDispatch.Tui" -c Release -r "$rid" "${kind[@]}" -o "$published"

lib=$prefix/lib/testdispatch
rm -rf "$lib"
mkdir -p "$lib" "$prefix/bin"
# Debug symbols (testdispatch.dbg, tens of MB; *.pdb) stay in the publish dir.
cp -a "$published/." "$lib/"
rm -f "$lib"/*.dbg "$lib"/*.pdb
ln -sfn "$lib/testdispatch" "$prefix/bin/testdispatch"

echo "installed $prefix/bin/testdispatch -> $lib/testdispatch"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on PATH; add it (e.g. in ~/.profile: export PATH=\"$prefix/bin:\$PATH\")" ;;
esac
