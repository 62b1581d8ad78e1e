"""An SBOM generator for BuildKit: lists a root filesystem's Debian packages, Python
distributions and Python interpreter as an SPDX 2.3 JSON document.

Standard library only, and runnable as its own top-level package: the generator image
copies this directory and runs `python3 -m sbom_scan` (see images/sbom-generator/).
"""
