"""Packaging beside pyproject.toml: ships config/ as the package `bot.defaults` (its one source).

pyproject's `packages.find` cannot add a package that lives outside its parent's folder, so the
package list is found here: bot* and adapters*, plus config/ mapped under `bot`.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["bot", "bot.*", "adapters", "adapters.*"]), "bot.defaults"],
    package_dir={"bot.defaults": "config"},
)
