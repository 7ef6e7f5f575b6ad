"""The extension follows Slicer's layout: every module file listed in CMake, the test registered, the icon sane."""

from __future__ import annotations

import re

from PIL import Image

from .conftest import EXTENSION_DIR, MODULE_DIR, MODULE_NAME, MODULE_SCRIPT, REPO
from .module_source import module_tree


def cmake_list(text: str, variable: str) -> set[str]:
    match = re.search(rf"set\({variable}\s+(.*?)\)", text, re.S)
    assert match, f"{variable} is not set"
    return {item.replace("${MODULE_NAME}", MODULE_NAME) for item in match.group(1).split()}


def test_every_module_file_is_listed_in_cmake():
    text = (MODULE_DIR / "CMakeLists.txt").read_text()
    listed = cmake_list(text, "MODULE_PYTHON_SCRIPTS") | cmake_list(text, "MODULE_PYTHON_RESOURCES")
    on_disk = {
        path.relative_to(MODULE_DIR).as_posix()
        for path in MODULE_DIR.rglob("*")
        if path.is_file() and path.name != "CMakeLists.txt" and "__pycache__" not in path.parts
        and not path.relative_to(MODULE_DIR).as_posix().startswith("Testing/")
    }  # fmt: skip
    assert sorted(on_disk - listed) == [], "files missing from the module CMakeLists.txt"
    assert sorted(listed - on_disk) == [], "CMakeLists.txt lists files that do not exist"
    assert "slicerMacroBuildScriptedModule" in text and "add_subdirectory(Testing)" in text


def test_screenshot_is_a_real_png():
    with Image.open(EXTENSION_DIR / "Screenshots" / "panel.png") as screenshot:
        assert screenshot.format == "PNG" and screenshot.size[0] >= 300 and screenshot.size[1] >= 500
        assert len(set(screenshot.convert("RGB").getdata())) > 50  # a rendered panel, not a blank image


RAW_URL = "https://raw.githubusercontent.com/monai-ext/monai-ext/main/"


def test_extension_cmake_at_the_repository_root_has_metadata_and_adds_the_module():
    """The Extensions Index builds the repository root: it must declare the extension and add the module."""
    text = (REPO / "CMakeLists.txt").read_text()
    assert not (EXTENSION_DIR / "CMakeLists.txt").exists(), "one extension declaration, at the root"
    for key in ("HOMEPAGE", "CATEGORY", "CONTRIBUTORS", "DESCRIPTION", "ICONURL", "SCREENSHOTURLS", "DEPENDS"):
        assert re.search(rf'set\(EXTENSION_{key} "[^"]+"\)', text), key
    assert re.search(r'set\(EXTENSION_DEPENDS "PyTorch"\)', text)  # torch through the PyTorch extension
    for key in ("ICONURL", "SCREENSHOTURLS"):  # raw URLs of files that exist in the repository
        url = re.search(rf'set\(EXTENSION_{key} "([^"]+)"\)', text).group(1)
        assert url.startswith(RAW_URL) and (REPO / url[len(RAW_URL) :]).is_file(), url
    for line in ("find_package(Slicer REQUIRED)", "include(${Slicer_USE_FILE})",
                 f"add_subdirectory(slicer_module/{MODULE_NAME})",
                 "include(${Slicer_EXTENSION_GENERATE_CONFIG})", "include(${Slicer_EXTENSION_CPACK})"):  # fmt: skip
        assert line in text


def test_self_test_is_registered_and_real():
    testing = (MODULE_DIR / "Testing" / "Python" / "CMakeLists.txt").read_text()
    assert "slicer_add_python_unittest(SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/../../${MODULE_NAME}.py)" in testing
    source = MODULE_SCRIPT.read_text()
    assert "testLogic = False" not in source
    classes = {node.name: node for node in module_tree().body if node.__class__.__name__ == "ClassDef"}
    for suffix in ("", "Widget", "Logic", "Test"):
        assert MODULE_NAME + suffix in classes
    methods = {item.name for item in classes[f"{MODULE_NAME}Test"].body if hasattr(item, "name")}
    assert {"setUp", "runTest"} <= methods and any(name.startswith("test_") for name in methods)


def test_icon_is_a_128_pixel_png():
    for path in (MODULE_DIR / "Resources" / "Icons" / f"{MODULE_NAME}.png", EXTENSION_DIR / f"{MODULE_NAME}.png"):
        with Image.open(path) as icon:
            assert icon.format == "PNG" and icon.size == (128, 128)
