"""Every file and folder of the checkout the build system and its tools read or write, named
once. Standard library only (the bare `python3` entry points use it)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MATRIX_FILE = REPO_ROOT / "images" / "matrix.toml"
BAKE_FILE = REPO_ROOT / "docker-bake.hcl"
README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
NOXFILE = REPO_ROOT / "noxfile.py"
STANDIN_DOCKERFILE = REPO_ROOT / "images" / "standin" / "Dockerfile"
FLAVOR_DOCKERFILE = REPO_ROOT / "images" / "flavors" / "Dockerfile"
NATIVE_INSTALL = REPO_ROOT / "images" / "native_install.py"
STACK_REQUIREMENTS = REPO_ROOT / "common" / "requirements.txt"
SBOM_GENERATOR_DOCKERFILE = REPO_ROOT / "images" / "sbom-generator" / "Dockerfile"
SBOM_SCANNER_DIR = REPO_ROOT / "bake" / "engine" / "sbom_scan"
WORKFLOW_DIR = REPO_ROOT / ".github" / "workflows"
IMAGE_TESTS = REPO_ROOT / "tests" / "image"
PIPELINE_TESTS = REPO_ROOT / "tests" / "pipeline"
