"""pyproject.toml's license is an SPDX expression (PEP 639); the `{ text = ... }` table made
setuptools warn on every install that such builds stop working in February 2027."""
import importlib.metadata
import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"
SPDX_SETUPTOOLS = 77  # the first setuptools that accepts a license string


def test_it_declares_the_license_as_an_spdx_expression():
    project = tomllib.loads(PYPROJECT.read_text())
    assert project["project"]["license"] == "Apache-2.0"
    floor = re.fullmatch(r"setuptools>=(\d+)", project["build-system"]["requires"][0])
    assert floor and int(floor.group(1)) >= SPDX_SETUPTOOLS
    # What `make install` built from it (metadata 2.4); the old table gave only a free-text License field.
    assert importlib.metadata.metadata("switchyard")["License-Expression"] == "Apache-2.0"
