#!/usr/bin/env bash
# Set up the toolkit in ./.venv (or the active virtual environment) with the right PyTorch build.
#
#   bash scripts/setup.sh          runtime only
#   bash scripts/setup.sh --dev    runtime + test/lint tools + Ray (for the executor tests)
#                                  (+ Chromium for the tearsheet rendering test)
#
# PyTorch: a plain `pip install torch` on Linux pulls a multi-GB CUDA build. This script installs
# torch FIRST, chosen for this machine, then the project, whose `torch>=2.4` range is then already
# satisfied, so pip downloads no other build.
#   - TORCH_SPEC      the requirement to install (default: torch==2.13.0)
#   - TORCH_INDEX_URL a PyTorch wheel index, e.g. https://download.pytorch.org/whl/cu128 for a
#                     given CUDA version, or https://download.pytorch.org/whl/cpu for a small CPU
#                     build on a machine without a GPU
# With neither set, a machine without `nvidia-smi` gets torch==2.13.0 as pip resolves it (here: the
# CPU wheel on local disk), and a CUDA machine gets PyPI's default build, which is CUDA-enabled.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    *) echo "setup.sh: unknown option '$arg' (use --dev or nothing)" >&2; exit 2 ;;
  esac
done

if [ -z "${VIRTUAL_ENV:-}" ]; then
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  PY=.venv/bin/python
else
  PY="$VIRTUAL_ENV/bin/python"
fi
pip_q=(-m pip install --disable-pip-version-check -q)

spec="${TORCH_SPEC:-torch==2.13.0}"
if "$PY" -c "import torch" 2>/dev/null; then
  echo "setup: torch $("$PY" -c 'import torch; print(torch.__version__)') already installed, kept"
else
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    echo "setup: installing $spec from $TORCH_INDEX_URL"
    "$PY" "${pip_q[@]}" "$spec" --index-url "$TORCH_INDEX_URL"
  else
    if command -v nvidia-smi >/dev/null 2>&1; then
      echo "setup: GPU found, installing $spec (CUDA build from PyPI)"
    else
      echo "setup: no GPU found, installing $spec"
    fi
    "$PY" "${pip_q[@]}" "$spec"
  fi
fi

if [ "$dev" = 1 ]; then
  "$PY" "${pip_q[@]}" -e ".[dev,ray]"
  # The tearsheet test renders the HTML in headless Chromium; install it where we can (Debian/Ubuntu
  # as root). Elsewhere that one test is skipped with its reason.
  if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "setup: installing Chromium for the tearsheet rendering test"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "setup: Chromium could not be installed; the rendering test will be skipped"
    else
      echo "setup: Chromium not found and not root; the tearsheet rendering test will be skipped"
    fi
  fi
else
  "$PY" "${pip_q[@]}" -e .
fi
echo "setup: done ($("$PY" -c 'import torch; print("torch", torch.__version__, "cuda" if torch.cuda.is_available() else "cpu")'))"
