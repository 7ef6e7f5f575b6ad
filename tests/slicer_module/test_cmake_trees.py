"""The module's CMakeLists in real CMake: bundles and the project copy land beside the script in build and install.

Slicer is not installed here, so the harness project defines the two Slicer variables the module uses and a
stand-in ``slicerMacroBuildScriptedModule`` that copies SCRIPTS and RESOURCES by their relative paths into
``qt-scripted-modules`` and installs them there, as ``ctkMacroCompilePythonScript`` does. Everything else (the
copy of bundles and of monai-ext) is the module's own CMake code, configured, built and installed for real.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from .conftest import MODULE_DIR, MODULE_NAME, REPO, shipped_bundles

CMAKE = shutil.which("cmake")
pytestmark = pytest.mark.skipif(CMAKE is None, reason="cmake is not installed")

HARNESS = """
cmake_minimum_required(VERSION 3.16)
project(Harness NONE)
set(Slicer_QTSCRIPTEDMODULES_LIB_DIR "lib/Slicer-5.10/qt-scripted-modules")
set(Slicer_INSTALL_QTSCRIPTEDMODULES_LIB_DIR "${Slicer_QTSCRIPTEDMODULES_LIB_DIR}")
macro(slicerMacroBuildScriptedModule)
  cmake_parse_arguments(MY "WITH_GENERIC_TESTS" "NAME" "SCRIPTS;RESOURCES" ${ARGN})
  foreach(file IN LISTS MY_SCRIPTS MY_RESOURCES)
    configure_file("${CMAKE_CURRENT_SOURCE_DIR}/${file}"
      "${CMAKE_BINARY_DIR}/${Slicer_QTSCRIPTEDMODULES_LIB_DIR}/${file}" COPYONLY)
    get_filename_component(subdir "${file}" DIRECTORY)
    install(FILES "${CMAKE_CURRENT_SOURCE_DIR}/${file}"
      DESTINATION "${Slicer_INSTALL_QTSCRIPTEDMODULES_LIB_DIR}/${subdir}")
  endforeach()
endmacro()
add_subdirectory("@MODULE_DIR@" module)
"""


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmake")
    source, build, prefix = root / "source", root / "build", root / "install"
    source.mkdir()
    (source / "CMakeLists.txt").write_text(HARNESS.replace("@MODULE_DIR@", MODULE_DIR.as_posix()))
    for command in (
        [CMAKE, "-S", source, "-B", build, "-DBUILD_TESTING=OFF"],
        [CMAKE, "--build", build],
        [CMAKE, "--install", build, "--prefix", prefix],
    ):
        done = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    scripted = "lib/Slicer-5.10/qt-scripted-modules"
    return {"build": build / scripted, "install": prefix / scripted}


@pytest.mark.parametrize("tree", ["build", "install"])
def test_bundles_and_project_copy_are_beside_the_script(trees, tree):
    module_dir = trees[tree]
    assert (module_dir / f"{MODULE_NAME}.py").is_file()
    assert (module_dir / f"{MODULE_NAME}Lib" / "workerProcess" / "worker.py").is_file()
    for bundle in shipped_bundles():
        copied = module_dir / "Resources" / "Bundles" / bundle
        assert (copied / "configs" / "metadata.json").is_file() and (copied / "models" / "model.pt").is_file()
        assert not (copied / "runs").exists() and not (copied / "eval").exists()
    copy = module_dir / "Resources" / "monai-ext"
    assert (copy / "pyproject.toml").read_text() == (REPO / "pyproject.toml").read_text()
    assert (copy / "monai_ext" / "bundle" / "runner.py").is_file() and (copy / "README.md").is_file()


@pytest.mark.parametrize("tree", ["build", "install"])
def test_the_installed_module_finds_them(trees, tree):
    """locations.py as installed, run in a fresh Python: it finds the installed bundles and project copy."""
    module_dir = trees[tree]
    code = (
        "from MonaiBundleExplorerLib import bundleInfo, locations\n"
        "print([p.name for p in bundleInfo.findBundles(locations.shippedBundleRoots())])\n"
        "print(locations.projectSource())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=module_dir, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    names, source = done.stdout.splitlines()
    assert names == repr(list(shipped_bundles()))
    assert source == str(module_dir / "Resources" / "monai-ext")
