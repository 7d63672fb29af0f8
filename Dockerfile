# CUDA image for remote orchestrators and step operators: the project with its `gpu` extra.
# configs/production.yaml points ZenML at it (settings.docker.dockerfile); ZenML builds it as
# the parent image and adds the stack's integration requirements and the pipeline code on top.
# Build by hand:  docker build -t tuneline-gpu .
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ZENML_ANALYTICS_OPT_IN=false \
    TOKENIZERS_PARALLELISM=false \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# Ubuntu 24.04's Python is 3.12 (tuneline supports 3.11-3.12); build tools for wheels that
# compile (bitsandbytes and triton ship binaries; some of their deps do not).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-dev build-essential git \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv

WORKDIR /app
# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
COPY tuneline/__init__.py tuneline/__init__.py
RUN pip install --upgrade pip \
 && pip install '.[gpu]' \
 && pip install --no-deps unsloth==2026.10.9 unsloth_zoo==2026.10.9 \
 && pip uninstall -y tuneline

# llama.cpp for the GGUF export and its checks (built from source, portable CPU kernels).
COPY scripts/install-llama-cpp.sh scripts/install-llama-cpp.sh
RUN CMAKE_ARGS="-DGGML_NATIVE=OFF" scripts/install-llama-cpp.sh /opt/venv/bin/python

COPY tuneline tuneline
COPY tuneline_steps tuneline_steps
COPY tuneline_pipelines tuneline_pipelines
COPY configs configs
RUN pip install --no-deps -e .

# GPU steps load models from the Hub in production (HF_TOKEN comes from a ZenML secret or the
# pod environment, never from the image).
ENV HF_HUB_OFFLINE=0
