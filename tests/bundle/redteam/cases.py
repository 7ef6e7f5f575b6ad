"""The red-team corpus: exploit bundles built in a temporary folder, one builder per case.

Each builder edits a copy of a shipped bundle the way an attacker would and returns the case: what the
child process does with it (``run`` through the worker contract, ``load``, ``get:<key>`` of the config, or
``cli``) and what must happen: ``refused`` (a typed ``BundleError`` of ``error`` whose message holds every
``match``) or ``ok`` (a harmless run). The parent test adds the invariants every case shares: nothing written
outside its output folder, no connection to the listener, and the memory and time bounds.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.bundle.conftest import AUTOENCODER, CLASSIFIER, GAN, copy_bundle

Case = dict[str, Any]
CASES: dict[str, tuple[str, Callable[[Context], Case]]] = {}


@dataclass
class Context:
    """Where the corpus lives: ``root`` (bundles, outputs), ``outside`` (files an attacker wants)."""

    root: Path
    outside: Path
    input_path: Path
    port: int

    def bundle(self, name: str, source: Path = CLASSIFIER) -> Path:
        target = self.root / "bundles" / name
        copy_bundle(source, target)
        if source == GAN:
            for extra in ("discriminator.pt", "discriminator.pt.sha256"):
                shutil.copy2(source / "models" / extra, target / "models" / extra)
        return target

    def out(self, name: str) -> Path:
        return self.root / "out" / name

    def run(self, name: str, bundle: Path, **extra: Any) -> Case:
        request = {"bundlePath": str(bundle), "inputPath": str(self.input_path), "outputDir": str(self.out(name)),
                   "device": "cpu"} | extra  # fmt: skip
        return {"action": "run", "request": request}


def case(attack: str) -> Callable[[Callable[[Context], Case]], Callable[[Context], Case]]:
    """Register a case builder under its attack class."""

    def register(builder: Callable[[Context], Case]) -> Callable[[Context], Case]:
        CASES[builder.__name__] = (attack, builder)
        return builder

    return register


def refused(base: Case, error: str, *match: str) -> Case:
    return base | {"expect": "refused", "error": error, "match": list(match)}


def harmless(base: Case, absent: list[Path] | None = None) -> Case:
    """A run that must succeed; ``absent`` are files the attack aimed at, which must not exist afterwards."""
    return base | {"expect": "ok", "absent": [str(path) for path in absent or []]}


def edit(bundle: Path, change: Callable[[dict[str, Any]], None], name: str = "inference.json") -> Path:
    path = bundle / "configs" / name
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config, indent=1))
    return path


def step(config: dict[str, Any], index: int = 1) -> dict[str, Any]:
    return config["preprocessing"]["transforms"][index]


def add_post(config: dict[str, Any], *transforms: dict[str, Any]) -> None:
    config["postprocessing"] = {"_target_": "Compose", "transforms": [config["postprocessing"], *transforms]}


# ---- code execution and file writes -------------------------------------------------------------------


@case("file write")
def save_classification_outside(ctx: Context) -> Case:
    bundle = ctx.bundle("save_classification")
    marker = ctx.outside / "written_by_saver"
    edit(bundle, lambda c: add_post(c, {"_target_": "SaveClassificationd", "keys": "pred",
                                        "output_dir": str(marker.parent), "filename": marker.name}))  # fmt: skip
    # the runner writes the outputs itself: a writer at the top of postprocessing is removed before anything is
    # parsed (monai_ext.bundle.zoo.plan), so it is never built; nothing may appear outside
    return harmless(ctx.run("save_classification_outside", bundle), absent=[marker])


@case("file write")
def save_classification_defining_path(ctx: Context) -> Case:
    bundle = ctx.bundle("save_classification_path")
    edit(bundle, lambda c: add_post(c, {"_target_": "monai.transforms.post.dictionary.SaveClassificationd",
                                        "keys": "pred", "output_dir": str(ctx.outside)}))  # fmt: skip
    return harmless(ctx.run("save_classification_defining_path", bundle), absent=[ctx.outside / "predictions.csv"])


@case("file write")
def save_image_in_postprocessing(ctx: Context) -> Case:
    bundle = ctx.bundle("save_image")
    edit(bundle, lambda c: add_post(c, {"_target_": "SaveImaged", "keys": "image", "output_dir": str(ctx.outside)}))
    return harmless(ctx.run("save_image_in_postprocessing", bundle), absent=[ctx.outside / "image"])


# ---- smuggling past the zoo adapter, which removes loaders and writers by name before the audit ---------


@case("file write")
def writer_in_nested_compose(ctx: Context) -> Case:
    """Only the top level of postprocessing is planned: a writer one Compose deeper meets the allow-list."""
    bundle = ctx.bundle("writer_nested")
    edit(bundle, lambda c: add_post(c, {"_target_": "Compose", "transforms": [
        {"_target_": "SaveImaged", "keys": "pred", "output_dir": str(ctx.outside)}]}))  # fmt: skip
    return refused(ctx.run("writer_in_nested_compose", bundle), "UntrustedCodeError", "SaveImaged")


@case("file write")
def writer_by_reference(ctx: Context) -> Case:
    """A writer under its own key, listed in postprocessing as ``@writer``: not removed, so it is audited."""
    bundle = ctx.bundle("writer_reference")

    def plant(c: dict[str, Any]) -> None:
        c["writer"] = {"_target_": "SaveImaged", "keys": "pred", "output_dir": str(ctx.outside)}
        add_post(c, "@writer")  # type: ignore[arg-type]

    edit(bundle, plant)
    return refused(ctx.run("writer_by_reference", bundle), "UntrustedCodeError", "SaveImaged", "writer")


@case("file write")
def writer_expression_target(ctx: Context) -> Case:
    """A ``_target_`` computed by ``$`` is no name the adapter recognises, and no reviewed class either."""
    bundle = ctx.bundle("writer_expression")
    edit(bundle, lambda c: add_post(c, {"_target_": "$'SaveImaged'", "keys": "pred",
                                        "output_dir": str(ctx.outside)}))  # fmt: skip
    return refused(ctx.run("writer_expression_target", bundle), "UntrustedCodeError", "postprocessing")


@case("code execution")
def writer_subclass_in_scripts(ctx: Context) -> Case:
    """A bundle-local class named like a writer: removing it by name must not hide that the bundle ships code."""
    bundle = ctx.bundle("writer_subclass")
    (bundle / "scripts").mkdir()
    marker = ctx.outside / "imported_writer_subclass"
    (bundle / "scripts" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    (bundle / "scripts" / "io.py").write_text("from monai.transforms import SaveImaged as _S\nclass SaveImaged(_S):\n"
                                              "    pass\n")  # fmt: skip
    edit(bundle, lambda c: add_post(c, {"_target_": "scripts.io.SaveImaged", "keys": "pred",
                                        "output_dir": str(ctx.outside)}))  # fmt: skip
    return refused(ctx.run("writer_subclass_in_scripts", bundle), "BundleCodeNeedsTrustError", "scripts.io.SaveImaged")


@case("file write")
def reference_to_removed_writer(ctx: Context) -> Case:
    """A kept step that refers to the writer by id: the id is gone (or shifted) once the writer is removed."""
    bundle = ctx.bundle("removed_writer_reference")

    def plant(c: dict[str, Any]) -> None:
        add_post(c, {"_target_": "SaveImaged", "keys": "pred", "output_dir": str(ctx.outside)},
                 {"_target_": "Compose", "transforms": ["@postprocessing#transforms#1"]})  # fmt: skip

    edit(bundle, plant)
    return refused(ctx.run("reference_to_removed_writer", bundle), "BundleConfigError")


@case("network or file read")
def loader_after_the_head(ctx: Context) -> Case:
    """Only the head of preprocessing is fed our volume: a loader further down meets the allow-list."""
    bundle = ctx.bundle("loader_later")
    edit(bundle, lambda c: c["preprocessing"]["transforms"].insert(1, {"_target_": "LoadImaged", "keys": "image"}))
    return refused(ctx.run("loader_after_the_head", bundle), "UntrustedCodeError", "LoadImaged")


@case("code execution")
def expression_import(ctx: Context) -> Case:
    bundle = ctx.bundle("expression_import")
    payload = f"$__import__('pathlib').Path({str(ctx.outside / 'pwned')!r}).write_text('x') and 64"
    edit(bundle, lambda c: step(c).__setitem__("spatial_size", payload))
    return refused(ctx.run("expression_import", bundle), "UntrustedCodeError", "function call", "preprocessing")


@case("code execution")
def expression_dunder_walk(ctx: Context) -> Case:
    bundle = ctx.bundle("dunder_walk")
    edit(bundle, lambda c: step(c).__setitem__("spatial_size", "$().__class__.__base__.__subclasses__()"))
    return refused(ctx.run("expression_dunder_walk", bundle), "UntrustedCodeError", "is not allowed")


@case("code execution")
def expression_constant_dunder(ctx: Context) -> Case:
    bundle = ctx.bundle("constant_dunder")
    edit(bundle, lambda c: step(c).__setitem__("keys", "$monai.utils.CommonKeys.__class__"))
    return refused(ctx.run("expression_constant_dunder", bundle), "UntrustedCodeError", "attribute access")


@case("code execution")
def expression_device_walk(ctx: Context) -> Case:
    bundle = ctx.bundle("device_walk")
    edit(bundle, lambda c: step(c).__setitem__("keys", "$torch.device('cpu').type.__class__"))
    return refused(ctx.run("expression_device_walk", bundle), "UntrustedCodeError", "attribute access")


@case("code execution")
def lambda_transform(ctx: Context) -> Case:
    bundle = ctx.bundle("lambda_transform")
    edit(bundle, lambda c: c["preprocessing"]["transforms"].append(
        {"_target_": "Lambdad", "keys": "image", "func": "$lambda x: __import__('os').system('id')"}))  # fmt: skip
    return refused(ctx.run("lambda_transform", bundle), "UntrustedCodeError", "Lambda")


@case("code execution")
def mode_callable(ctx: Context) -> Case:
    bundle = ctx.bundle("mode_callable")
    edit(bundle, lambda c: step(c).__setitem__("_mode_", "callable"))
    return refused(ctx.run("mode_callable", bundle), "UntrustedCodeError", "_mode_")


@case("code execution")
def requires_key(ctx: Context) -> Case:
    bundle = ctx.bundle("requires_key")
    edit(bundle, lambda c: step(c).__setitem__("_requires_", "@spatial_size"))
    return refused(ctx.run("requires_key", bundle), "UntrustedCodeError", "_requires_")


@case("code execution")
def select_fn_callable(ctx: Context) -> Case:
    bundle = ctx.bundle("select_fn")
    edit(bundle, lambda c: c["preprocessing"]["transforms"].insert(0, {
        "_target_": "CropForegroundd", "keys": "image", "source_key": "image", "select_fn": "$print"}))  # fmt: skip
    return refused(ctx.run("select_fn_callable", bundle), "UntrustedCodeError", "select_fn")


@case("code execution")
def activations_other(ctx: Context) -> Case:
    bundle = ctx.bundle("activations_other")
    edit(bundle, lambda c: c["postprocessing"].__setitem__("other", "$exec"))
    return refused(ctx.run("activations_other", bundle), "UntrustedCodeError", "other")


@case("code execution")
def invertd_post_func(ctx: Context) -> Case:
    bundle = ctx.bundle("invertd_post_func")
    edit(bundle, lambda c: add_post(c, {"_target_": "Invertd", "keys": "pred", "transform": "@preprocessing",
                                        "orig_keys": "image", "post_func": "$eval"}))  # fmt: skip
    return refused(ctx.run("invertd_post_func", bundle), "UntrustedCodeError", "post_func")


@case("code execution")
def compose_log_stats(ctx: Context) -> Case:
    bundle = ctx.bundle("log_stats")
    edit(bundle, lambda c: c["preprocessing"].__setitem__("log_stats", "evil"))
    return refused(ctx.run("compose_log_stats", bundle), "UntrustedCodeError", "log_stats")


@case("code execution")
def bundle_scripts_module(ctx: Context) -> Case:
    """A class from the bundle's own scripts/ folder would run that folder's code on import."""
    bundle = ctx.bundle("scripts_module")
    (bundle / "scripts").mkdir()
    marker = ctx.outside / "imported_scripts"
    (bundle / "scripts" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    (bundle / "scripts" / "net.py").write_text("import torch\nclass Net(torch.nn.Linear):\n    pass\n")
    edit(bundle, lambda c: c.__setitem__("network_def", {"_target_": "scripts.net.Net", "in_features": 1,
                                                         "out_features": 1}))  # fmt: skip
    return refused(ctx.run("bundle_scripts_module", bundle), "BundleCodeNeedsTrustError", "scripts.net.Net",
                   "scripts/", "--trusted")  # fmt: skip


@case("code execution")
def config_parser_target(ctx: Context) -> Case:
    bundle = ctx.bundle("config_parser")
    edit(bundle, lambda c: c["preprocessing"]["transforms"].append({"_target_": "monai.bundle.ConfigParser"}))
    return refused(ctx.run("config_parser_target", bundle), "UntrustedCodeError", "allow-list")


@case("code execution")
def importable_module_target(ctx: Context) -> Case:
    """A dotted name of any installed module must not even be imported (``this`` prints on import)."""
    bundle = ctx.bundle("antigravity")
    edit(bundle, lambda c: c["preprocessing"]["transforms"].append({"_target_": "this.X"}))
    return refused(ctx.run("importable_module_target", bundle), "UntrustedCodeError", "this.X")


@case("code execution")
def dataloader_in_preprocessing(ctx: Context) -> Case:
    bundle = ctx.bundle("dataloader")
    edit(bundle, lambda c: c["preprocessing"]["transforms"].append({"_target_": "DataLoader", "dataset": []}))
    return refused(ctx.run("dataloader_in_preprocessing", bundle), "UntrustedCodeError", "DataLoader")


@case("code execution")
def ddp_in_preprocessing(ctx: Context) -> Case:
    bundle = ctx.bundle("ddp")
    edit(bundle, lambda c: c["preprocessing"]["transforms"].append(
        {"_target_": "torch.nn.parallel.DistributedDataParallel", "module": None}))  # fmt: skip
    return refused(ctx.run("ddp_in_preprocessing", bundle), "UntrustedCodeError", "DistributedDataParallel")


@case("code execution")
def network_in_preprocessing(ctx: Context) -> Case:
    """A reviewed network is still refused where a transform belongs (and through a reference)."""
    bundle = ctx.bundle("network_in_pre")
    edit(bundle, lambda c: (c.__setitem__("net2", {"_target_": "UNet", "spatial_dims": 3, "in_channels": 1,
                                                   "out_channels": 1, "channels": [4, 8], "strides": [2]}),
                            c["preprocessing"]["transforms"].append("@net2")))  # fmt: skip
    return refused(ctx.run("network_in_preprocessing", bundle), "UntrustedCodeError", "only a transform")


# ---- network and file reads ---------------------------------------------------------------------------


@case("network or file read")
def hovernet_pretrained_url(ctx: Context) -> Case:
    bundle = ctx.bundle("hovernet")
    edit(bundle, lambda c: c.__setitem__("network_def", {"_target_": "monai.networks.nets.HoVerNet",
         "pretrained_url": f"http://127.0.0.1:{ctx.port}/weights.pth", "out_classes": 2}))  # fmt: skip
    return refused(ctx.run("hovernet_pretrained_url", bundle), "UntrustedCodeError", "HoVerNet")


@case("network or file read")
def densenet_pretrained(ctx: Context) -> Case:
    bundle = ctx.bundle("densenet_pretrained")
    edit(bundle, lambda c: c.__setitem__("network_def", {"_target_": "DenseNet121", "spatial_dims": 3,
         "in_channels": 2, "out_channels": 2, "pretrained": True}))  # fmt: skip
    return refused(ctx.run("densenet_pretrained", bundle), "UntrustedCodeError", "pretrained", "downloads")


@case("network or file read")
def macro_absolute(ctx: Context) -> Case:
    bundle = ctx.bundle("macro_absolute")
    edit(bundle, lambda c: c.__setitem__("max_distance", f"%{ctx.outside / 'secret.json'}#token"))
    return refused(ctx.run("macro_absolute", bundle), "BundleFileError", "outside the bundle", "max_distance")


@case("network or file read")
def macro_etc_passwd(ctx: Context) -> Case:
    bundle = ctx.bundle("macro_passwd")
    edit(bundle, lambda c: c.__setitem__("max_distance", "%/etc/passwd#x"))
    return refused(ctx.run("macro_etc_passwd", bundle), "BundleFileError", "max_distance")


@case("network or file read")
def macro_climbs_out(ctx: Context) -> Case:
    bundle = ctx.bundle("macro_climb")
    relative = os.path.relpath(ctx.outside / "secret.json", bundle)
    edit(bundle, lambda c: c.__setitem__("max_distance", f"%{relative}#token"))
    return refused(ctx.run("macro_climbs_out", bundle), "BundleFileError", "outside the bundle", "max_distance")


@case("network or file read")
def macro_dotdot_json(ctx: Context) -> Case:
    bundle = ctx.bundle("macro_dotdot")
    edit(bundle, lambda c: c.__setitem__("max_distance", "%../../x.json#key"))
    return refused(ctx.run("macro_dotdot_json", bundle), "BundleFileError", "outside the bundle")


@case("network or file read")
def macro_symlinked_file(ctx: Context) -> Case:
    bundle = ctx.bundle("macro_symlink")
    (bundle / "configs" / "extra.json").symlink_to(ctx.outside / "secret.json")
    edit(bundle, lambda c: c.__setitem__("max_distance", "%configs/extra.json#token"))
    return refused(ctx.run("macro_symlinked_file", bundle), "BundleFileError", "symlink")


@case("network or file read")
def macro_url(ctx: Context) -> Case:
    bundle = ctx.bundle("macro_url")
    edit(bundle, lambda c: c.__setitem__("max_distance", f"%http://127.0.0.1:{ctx.port}/x.json#a"))
    return refused(ctx.run("macro_url", bundle), "BundleFileError", "max_distance")


@case("network or file read")
def macro_inside_bundle(ctx: Context) -> Case:
    """A macro to another config file inside the bundle is allowed (and checked like the main file)."""
    bundle = ctx.bundle("macro_inside")
    (bundle / "configs" / "common.json").write_text(json.dumps({"sizes": {"spatial": [64, 64, 64]}}))
    edit(bundle, lambda c: c.__setitem__("spatial_size", "%configs/common.json::sizes::spatial"))
    return harmless(ctx.run("macro_inside_bundle", bundle))


@case("network or file read")
def load_image_passwd(ctx: Context) -> Case:
    """A loader at the head of preprocessing is replaced by the runner's own volume: it never reads a file."""
    bundle = ctx.bundle("load_passwd", AUTOENCODER)
    head = [{"_target_": "LoadImaged", "keys": "image", "reader": "$open('/etc/passwd')"},
            {"_target_": "EnsureChannelFirstd", "keys": "image"}]  # fmt: skip
    edit(bundle, lambda c: c["preprocessing"].__setitem__("transforms", head + c["preprocessing"]["transforms"]))
    return harmless(ctx.run("load_image_passwd", bundle))


@case("network or file read")
def yaml_python_tag(ctx: Context) -> Case:
    bundle = ctx.bundle("yaml_tag")
    (bundle / "configs" / "inference.json").unlink()
    (bundle / "configs" / "inference.yaml").write_text(
        f"network_def: !!python/object/apply:os.system ['touch {ctx.outside / 'yaml_pwned'}']\n"
    )
    return refused(ctx.run("yaml_python_tag", bundle), "BundleFileError", "tag", "inference.yaml")


# ---- writing outside the output folder ----------------------------------------------------------------


def _rename_output(ctx: Context, name: str, new: str) -> Case:
    bundle = ctx.bundle(name, AUTOENCODER)
    edit(bundle, lambda m: m["network_data_format"]["outputs"].__setitem__(
        new, m["network_data_format"]["outputs"].pop("anomaly_map")), name="metadata.json")  # fmt: skip
    return ctx.run(name, bundle)


@case("write outside --out")
def output_name_climbs(ctx: Context) -> Case:
    return refused(_rename_output(ctx, "output_climbs", "../../escaped"), "BundleFileError", "metadata.json")


@case("write outside --out")
def output_name_absolute(ctx: Context) -> Case:
    name = str(ctx.outside / "absolute_out")
    return refused(_rename_output(ctx, "output_absolute", name), "BundleFileError", "becomes a file name")


@case("write outside --out")
def output_name_nul(ctx: Context) -> Case:
    return refused(_rename_output(ctx, "output_nul", "map\x00x"), "BundleFileError", "becomes a file name")


@case("write outside --out")
def output_name_hidden(ctx: Context) -> Case:
    return refused(_rename_output(ctx, "output_hidden", ".bashrc"), "BundleFileError", "becomes a file name")


@case("write outside --out")
def copy_items_names(ctx: Context) -> Case:
    bundle = ctx.bundle("copy_items")
    edit(bundle, lambda c: add_post(c, {"_target_": "CopyItemsd", "keys": "pred", "names": "../../escaped"}))
    return refused(ctx.run("copy_items_names", bundle), "UntrustedCodeError", "names", "not a valid key")


@case("write outside --out")
def split_dim_postfixes(ctx: Context) -> Case:
    bundle = ctx.bundle("split_dim")
    edit(bundle, lambda c: add_post(c, {"_target_": "SplitDimd", "keys": "pred", "output_postfixes": ["/../x"]}))
    return refused(ctx.run("split_dim_postfixes", bundle), "UntrustedCodeError", "output_postfixes")


@case("write outside --out")
def cli_copy_items(ctx: Context) -> Case:
    bundle = ctx.bundle("cli_copy_items")
    edit(bundle, lambda c: add_post(c, {"_target_": "CopyItemsd", "keys": "pred", "names": "/tmp/escaped"}))
    argv = ["infer", str(ctx.input_path), "--bundle", str(bundle), "--out", str(ctx.out("cli_copy_items")),
            "--device", "cpu", "--no-montage"]  # fmt: skip
    return refused({"action": "cli", "argv": argv}, "BundleError", "UntrustedCodeError", "names")


# ---- exhaustion ---------------------------------------------------------------------------------------


@case("exhaustion")
def percent_format_gigabyte(ctx: Context) -> Case:
    bundle = ctx.bundle("percent_format")
    edit(bundle, lambda c: c.__setitem__("max_distance", "$len('%01000000000d' % 0) and 6"))
    return refused(ctx.run("percent_format_gigabyte", bundle), "BundleLimitError", "formatting")


@case("exhaustion")
def distance_channel_at_its_bound(ctx: Context) -> Case:
    """The largest ``max_distance`` the allow-list admits (1000 erosions asked for) runs inside the harmless bound.

    The erosions stop once the gland is gone (``tests/transforms/test_mask_distance.py`` counts them)."""
    bundle = ctx.bundle("distance_at_bound")
    edit(bundle, lambda c: c.__setitem__("max_distance", 1000))
    return harmless(ctx.run("distance_channel_at_its_bound", bundle))


@case("exhaustion")
def string_repeat(ctx: Context) -> Case:
    bundle = ctx.bundle("string_repeat")
    edit(bundle, lambda c: c.__setitem__("max_distance", "$len('RAS' * 1000000000) and 6"))
    return refused(ctx.run("string_repeat", bundle), "BundleLimitError", "longer than")


@case("exhaustion")
def squaring_chain(ctx: Context) -> Case:
    bundle = ctx.bundle("squaring")

    def plant(c: dict[str, Any]) -> None:
        c["big0"] = int("7" * 4000)
        for i in range(1, 24):
            c[f"big{i}"] = f"$@big{i - 1} * @big{i - 1}"
        c["max_distance"] = "$@big23 > 0 and 6"

    edit(bundle, plant)
    return refused(ctx.run("squaring_chain", bundle), "BundleLimitError", "bits")


@case("exhaustion")
def nested_repeat_weight(ctx: Context) -> Case:
    bundle = ctx.bundle("nested_repeat")
    edit(
        bundle,
        lambda c: c.__setitem__("max_distance", "$6 if [[0] * 100000] * 100000 == [[0] * 100000] * 100000 else 6"),
    )
    return refused(ctx.run("nested_repeat_weight", bundle), "BundleLimitError", "items")


@case("exhaustion")
def huge_range(ctx: Context) -> Case:
    bundle = ctx.bundle("huge_range")
    edit(bundle, lambda c: c.__setitem__("max_distance", "$len(range(10 ** 12))"))
    return refused(ctx.run("huge_range", bundle), "UntrustedCodeError", "Pow")


@case("exhaustion")
def huge_range_product(ctx: Context) -> Case:
    bundle = ctx.bundle("huge_range_product")
    edit(bundle, lambda c: c.__setitem__("max_distance", "$len(range(1000000 * 1000000))"))
    return refused(ctx.run("huge_range_product", bundle), "BundleLimitError", "range()")


@case("exhaustion")
def round_huge_digits(ctx: Context) -> Case:
    bundle = ctx.bundle("round_digits")
    edit(bundle, lambda c: c.__setitem__("max_distance", "$round(6, -1000000000)"))
    return refused(ctx.run("round_huge_digits", bundle), "BundleLimitError", "round()")


@case("exhaustion")
def yaml_billion_laughs(ctx: Context) -> Case:
    bundle = ctx.bundle("laughs")
    (bundle / "configs" / "inference.json").unlink()
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    (bundle / "configs" / "inference.yaml").write_text("\n".join(lines) + "\nnetwork_def: *a9\n")
    return refused(ctx.run("yaml_billion_laughs", bundle), "BundleFileError", "anchor")


@case("exhaustion")
def linear_in_preprocessing(ctx: Context) -> Case:
    bundle = ctx.bundle("linear_pre")
    edit(bundle, lambda c: c["preprocessing"]["transforms"].append(
        {"_target_": "torch.nn.Linear", "in_features": 100000, "out_features": 100000}))  # fmt: skip
    return refused(ctx.run("linear_in_preprocessing", bundle), "UntrustedCodeError", "torch.nn.Linear")


@case("exhaustion")
def parameter_budget(ctx: Context) -> Case:
    bundle = ctx.bundle("param_budget")
    edit(bundle, lambda c: c.__setitem__("network_def", {"_target_": "UNet", "spatial_dims": 3, "in_channels": 2,
         "out_channels": 2, "channels": [4000, 4000], "strides": [2]}))  # fmt: skip
    return refused(ctx.run("parameter_budget", bundle), "BundleLimitError", "parameters", "budget", "network_def")


@case("exhaustion")
def generator_output_size(ctx: Context) -> Case:
    """Few parameters, but ten upsampling stages: the generated volume would be 4096^3 (256 GB)."""
    bundle = ctx.bundle("generator_size", GAN)
    edit(bundle, lambda c: c["generator_def"].__setitem__("channels", [8] * 11))
    request = ctx.run("generator_output_size", bundle)
    request["request"].pop("inputPath")
    return refused(request, "BundleLimitError", "generated size", "generator_def")


@case("exhaustion")
def networks_behind_a_value(ctx: Context) -> Case:
    """Networks within the budget, built from a key the runner reads as a number: nothing may be built there."""
    bundle = ctx.bundle("networks_behind_value", GAN)

    def plant(c: dict[str, Any]) -> None:
        for i in range(8):
            c[f"big{i}"] = {"_target_": "UNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 1,
                            "channels": [2000, 2000], "strides": [2]}  # fmt: skip
        c["voxel_size_mm"] = [f"@big{i}" for i in range(8)]

    edit(bundle, plant)
    request = ctx.run("networks_behind_a_value", bundle)
    request["request"].pop("inputPath")
    # the preprocessing reads voxel_size_mm too (the crop's spacing): the audit of preprocessing refuses first
    return refused(request, "UntrustedCodeError", "big0", "is a network", "preprocessing")


@case("exhaustion")
def latent_channels(ctx: Context) -> Case:
    bundle = ctx.bundle("latent_channels", GAN)
    edit(bundle, lambda m: m["network_data_format"]["inputs"]["latent"].__setitem__("num_channels", 20_000_000_000),
         name="metadata.json")  # fmt: skip
    request = ctx.run("latent_channels", bundle)
    request["request"].pop("inputPath")
    return refused(request, "BundleLimitError", "num_channels", "metadata.json")


@case("exhaustion")
def compressed_weights_storage(ctx: Context) -> Case:
    """A model.pt whose storage entry is deflate-compressed zeros, far larger than the network (scaled: 256 MiB)."""
    bundle = ctx.bundle("compressed_weights")
    weights = bundle / "models" / "model.pt"
    with zipfile.ZipFile(weights) as zf:
        entries = [(i, zf.read(i)) for i in zf.infolist()]
    with zipfile.ZipFile(weights, "w") as zf:
        for info, data in entries:
            zf.writestr(info, data)
        with zf.open(zipfile.ZipInfo("model/data/9999"), "w", force_zip64=True) as sink:
            block = bytes(1 << 20)
            for _ in range(256):
                sink.write(block)
    (bundle / "models" / "model.pt.sha256").unlink()
    return refused(ctx.run("compressed_weights_storage", bundle), "BundleLimitError", "model.pt", "more than")


@case("exhaustion")
def resized_1400_cubed(ctx: Context) -> Case:
    bundle = ctx.bundle("resized_1400")
    edit(bundle, lambda c: c.__setitem__("spatial_size", [1400, 1400, 1400]))
    return refused(ctx.run("resized_1400_cubed", bundle), "UntrustedCodeError", "voxels", "spatial_size")


@case("exhaustion")
def spacing_tiny(ctx: Context) -> Case:
    bundle = ctx.bundle("spacing_tiny")
    spacing = {"_target_": "Spacingd", "keys": "image", "pixdim": [0.0001, 0.0001, 0.0001]}
    edit(bundle, lambda c: c["preprocessing"]["transforms"].insert(1, spacing))
    return refused(ctx.run("spacing_tiny", bundle), "UntrustedCodeError", "pixdim")


@case("exhaustion")
def copy_items_times(ctx: Context) -> Case:
    bundle = ctx.bundle("copy_times")
    edit(bundle, lambda c: c["preprocessing"]["transforms"].append({"_target_": "CopyItemsd", "keys": "image",
                                                                    "times": 1000000}))  # fmt: skip
    return refused(ctx.run("copy_items_times", bundle), "UntrustedCodeError", "times")


@case("exhaustion")
def repeat_channel(ctx: Context) -> Case:
    bundle = ctx.bundle("repeat_channel")
    edit(bundle, lambda c: c["preprocessing"]["transforms"].append({"_target_": "RepeatChanneld", "keys": "image",
                                                                    "repeats": 1000000}))  # fmt: skip
    return refused(ctx.run("repeat_channel", bundle), "UntrustedCodeError", "repeats")


@case("exhaustion")
def onehot_width(ctx: Context) -> Case:
    bundle = ctx.bundle("onehot")
    edit(bundle, lambda c: add_post(c, {"_target_": "AsDiscreted", "keys": "pred", "to_onehot": 100000000}))
    return refused(ctx.run("onehot_width", bundle), "UntrustedCodeError", "to_onehot")


@case("exhaustion")
def sliding_window_roi(ctx: Context) -> Case:
    bundle = ctx.bundle("sliding_roi")
    edit(bundle, lambda c: c.__setitem__("inferer", {"_target_": "SlidingWindowInferer", "roi_size": [4096, 4096, 4096],
                                                     "sw_batch_size": 1}))  # fmt: skip
    return refused({"action": "get:inferer", "bundle": str(bundle)}, "UntrustedCodeError", "roi_size")


@case("exhaustion")
def sliding_window_batch(ctx: Context) -> Case:
    """Each window within the size cap, but 64 of them at once: 64 x 400^3 voxels."""
    bundle = ctx.bundle("sliding_batch")
    edit(bundle, lambda c: c.__setitem__("inferer", {"_target_": "SlidingWindowInferer", "roi_size": [400, 400, 400],
                                                     "sw_batch_size": 64}))  # fmt: skip
    return refused({"action": "get:inferer", "bundle": str(bundle)}, "UntrustedCodeError", "roi_size x sw_batch_size")


@case("exhaustion")
def sliding_window_roi_at_run(ctx: Context) -> Case:
    """The runner builds the inferer itself from the resolved arguments: it applies the same bounds."""
    bundle = ctx.bundle("sliding_roi_run")
    edit(bundle, lambda c: c.__setitem__("inferer", {"_target_": "SlidingWindowInferer", "roi_size": [4096, 4096, 4096],
                                                     "sw_batch_size": 1}))  # fmt: skip
    return refused(ctx.run("sliding_window_roi_at_run", bundle), "UntrustedCodeError", "roi_size", "2048")


@case("exhaustion")
def flip_averaging_inner_window(ctx: Context) -> Case:
    """A reviewed wrapper must not launder an oversized sliding window: 64 x 400^3 voxels inside it."""
    bundle = ctx.bundle("flip_inner_window")
    inner = {"_target_": "SlidingWindowInferer", "roi_size": [400, 400, 400], "sw_batch_size": 64}
    edit(bundle, lambda c: c.__setitem__("inferer", {"_target_": "monai_ext.inferers.FlipAveragingInferer",
                                                     "spatial_axes": [0], "inferer": inner}))  # fmt: skip
    return refused(ctx.run("flip_averaging_inner_window", bundle), "UntrustedCodeError", "inferer#inferer",
                   "roi_size x sw_batch_size")  # fmt: skip


@case("exhaustion")
def flip_averaging_nested(ctx: Context) -> Case:
    """Flips inside flips would multiply the passes (2^3 per level): only a plain inferer may run inside."""
    bundle = ctx.bundle("flip_nested")
    inner = {"_target_": "FlipAveragingInferer", "spatial_axes": [0, 1, 2]}
    edit(bundle, lambda c: c.__setitem__("inferer", {"_target_": "FlipAveragingInferer", "spatial_axes": [0, 1, 2],
                                                     "inferer": inner}))  # fmt: skip
    return refused(ctx.run("flip_averaging_nested", bundle), "UntrustedCodeError", "only SimpleInferer")


@case("code execution")
def flip_averaging_unreviewed_inner(ctx: Context) -> Case:
    """A SaliencyInferer (or any other class) smuggled in as the wrapped inferer."""
    bundle = ctx.bundle("flip_unreviewed")
    inner = {"_target_": "monai.inferers.SaliencyInferer", "cam_name": "GradCAM", "target_layers": "head"}
    edit(bundle, lambda c: c.__setitem__("inferer", {"_target_": "FlipAveragingInferer", "inferer": inner}))
    return refused(ctx.run("flip_averaging_unreviewed_inner", bundle), "UntrustedCodeError", "inferer#inferer")


@case("code execution")
def flip_averaging_expression_axes(ctx: Context) -> Case:
    marker = ctx.outside / "flip_axes_ran"
    bundle = ctx.bundle("flip_axes_expr")
    axes = f"$open({str(marker)!r}, 'w').write('x') and [0]"
    edit(bundle, lambda c: c.__setitem__("inferer", {"_target_": "FlipAveragingInferer", "spatial_axes": axes}))
    return refused(ctx.run("flip_averaging_expression_axes", bundle), "UntrustedCodeError", "spatial_axes")


@case("exhaustion")
def divisible_pad(ctx: Context) -> Case:
    bundle = ctx.bundle("divisible_pad")
    edit(bundle, lambda c: c["preprocessing"]["transforms"].append({"_target_": "DivisiblePadd", "keys": "image",
                                                                    "k": 2048}))  # fmt: skip
    return refused(ctx.run("divisible_pad", bundle), "UntrustedCodeError", "'k'")


@case("exhaustion")
def crop_foreground_margin(ctx: Context) -> Case:
    bundle = ctx.bundle("crop_margin")
    crop = {"_target_": "CropForegroundd", "keys": "image", "source_key": "image", "margin": 60000}
    edit(bundle, lambda c: c["preprocessing"]["transforms"].append(crop))
    return refused(ctx.run("crop_foreground_margin", bundle), "UntrustedCodeError", "margin")


@case("exhaustion")
def json_deep_nesting(ctx: Context) -> Case:
    bundle = ctx.bundle("deep_json")
    (bundle / "configs" / "inference.json").write_text('{"a": ' + "[" * 200_000 + "]" * 200_000 + "}")
    return refused(ctx.run("json_deep_nesting", bundle), "BundleLimitError", "levels deep", "inference.json")


@case("exhaustion")
def yaml_deep_nesting(ctx: Context) -> Case:
    bundle = ctx.bundle("deep_yaml")
    (bundle / "configs" / "inference.json").unlink()
    (bundle / "configs" / "inference.yaml").write_text("a: " + "[" * 200_000 + "]" * 200_000 + "\n")
    return refused(ctx.run("yaml_deep_nesting", bundle), "BundleLimitError", "levels deep")


@case("exhaustion")
def metadata_deep_nesting(ctx: Context) -> Case:
    bundle = ctx.bundle("deep_metadata")
    (bundle / "configs" / "metadata.json").write_text("[" * 200_000 + "]" * 200_000)
    return refused(ctx.run("metadata_deep_nesting", bundle), "BundleFileError", "levels deep", "metadata.json")


@case("exhaustion")
def reference_chain(ctx: Context) -> Case:
    bundle = ctx.bundle("ref_chain")

    def plant(c: dict[str, Any]) -> None:
        for i in range(5000):
            c[f"r{i}"] = f"@r{i + 1}"
        c["r5000"] = 6
        c["max_distance"] = "@r0"

    edit(bundle, plant)
    return refused(ctx.run("reference_chain", bundle), "UntrustedCodeError", "nest more than")


@case("exhaustion")
def macro_bomb(ctx: Context) -> Case:
    bundle = ctx.bundle("macro_bomb")

    def plant(c: dict[str, Any]) -> None:
        c["m0"] = list(range(1000))
        for i in range(1, 30):
            c[f"m{i}"] = [f"%m{i - 1}", f"%m{i - 1}"]

    edit(bundle, plant)
    return refused(ctx.run("macro_bomb", bundle), "BundleLimitError", "more than")


@case("exhaustion")
def macro_cycle(ctx: Context) -> Case:
    bundle = ctx.bundle("macro_cycle")
    edit(bundle, lambda c: c.__setitem__("loop", "%loop"))
    return refused(ctx.run("macro_cycle", bundle), "BundleLimitError", "macros")


@case("exhaustion")
def oversized_config(ctx: Context) -> Case:
    bundle = ctx.bundle("oversized")
    edit(bundle, lambda c: c.__setitem__("padding", "x" * (9 << 20)))
    return refused(ctx.run("oversized_config", bundle), "BundleLimitError", "MiB")


@case("exhaustion")
def many_values(ctx: Context) -> Case:
    """150,000 values in 1 MB: MONAI's parser would make a ConfigItem of each."""
    bundle = ctx.bundle("many_values")
    edit(bundle, lambda c: c.__setitem__("padding", list(range(150_000))))
    return refused(ctx.run("many_values", bundle), "BundleLimitError", "values")


@case("exhaustion")
def json_backslash_run(ctx: Context) -> Case:
    """A quote followed by 3 MB of backslashes: a naive string regex in the depth scan would be quadratic."""
    bundle = ctx.bundle("backslash_run")
    (bundle / "configs" / "inference.json").write_text('"\\' * 1_500_000)
    return refused(ctx.run("json_backslash_run", bundle), "BundleFileError", "not valid JSON")


@case("exhaustion")
def long_expression(ctx: Context) -> Case:
    bundle = ctx.bundle("long_expression")
    edit(bundle, lambda c: c.__setitem__("max_distance", "$" + "+".join(["1"] * 50_000)))
    return refused(ctx.run("long_expression", bundle), "UntrustedCodeError", "characters")


@case("exhaustion")
def zip_bomb(ctx: Context) -> Case:
    """A zip whose model.pt expands far beyond the (here lowered) extraction cap; the copy must be deleted."""
    archive = ctx.root / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(CLASSIFIER.joinpath("configs").iterdir()):
            zf.write(path, f"b/configs/{path.name}")
        with zf.open("b/models/model.pt", "w", force_zip64=True) as sink:
            block = bytes(1 << 20)
            for _ in range(128):
                sink.write(block)
    return refused({"action": "load", "bundle": str(archive), "kwargs": {"max_extracted_bytes": 32 << 20}},
                   "BundleLimitError", "more than")  # fmt: skip


# ---- tracebacks that must be typed errors -------------------------------------------------------------


@case("typed error")
def divide_by_zero(ctx: Context) -> Case:
    bundle = ctx.bundle("divide_zero")
    edit(bundle, lambda c: c.__setitem__("max_distance", "$1/0"))
    return refused(ctx.run("divide_by_zero", bundle), "BundleConfigError", "ZeroDivisionError", "max_distance")


@case("typed error")
def bad_int_text(ctx: Context) -> Case:
    bundle = ctx.bundle("bad_int")
    edit(bundle, lambda c: c.__setitem__("max_distance", "$int('six')"))
    return refused(ctx.run("bad_int_text", bundle), "BundleConfigError", "ValueError")


@case("typed error")
def unknown_keyword(ctx: Context) -> Case:
    bundle = ctx.bundle("unknown_keyword")
    edit(bundle, lambda c: step(c).__setitem__("no_such_argument", 1))
    return refused(ctx.run("unknown_keyword", bundle), "UntrustedCodeError", "no_such_argument", "unknown keyword")


@case("typed error")
def missing_reference(ctx: Context) -> Case:
    bundle = ctx.bundle("missing_ref")
    edit(bundle, lambda c: c.__setitem__("max_distance", "@nowhere"))
    return refused(ctx.run("missing_reference", bundle), "BundleConfigError", "@nowhere")


@case("typed error")
def missing_expression_reference(ctx: Context) -> Case:
    bundle = ctx.bundle("missing_expr_ref")
    edit(bundle, lambda c: c.__setitem__("max_distance", "$@nowhere + 1"))
    return refused(ctx.run("missing_expression_reference", bundle), "BundleConfigError", "@nowhere")


@case("typed error")
def circular_reference(ctx: Context) -> Case:
    bundle = ctx.bundle("circular_ref")
    edit(bundle, lambda c: (c.__setitem__("max_distance", "@loop_a"), c.__setitem__("loop_a", "@loop_b"),
                            c.__setitem__("loop_b", "@loop_a")))  # fmt: skip
    return refused(ctx.run("circular_reference", bundle), "BundleConfigError", "circular")


@case("typed error")
def wrong_value_type(ctx: Context) -> Case:
    bundle = ctx.bundle("wrong_type")
    edit(bundle, lambda c: c.__setitem__("spatial_size", "abc"))
    return refused(ctx.run("wrong_value_type", bundle), "UntrustedCodeError", "spatial_size")


@case("typed error")
def network_rejects_arguments(ctx: Context) -> Case:
    bundle = ctx.bundle("bad_unet")
    edit(bundle, lambda c: c.__setitem__("network_def", {"_target_": "UNet", "spatial_dims": 3, "in_channels": 2,
         "out_channels": 2, "channels": [4, 8, 16], "strides": [2]}))  # fmt: skip
    return refused(ctx.run("network_rejects_arguments", bundle), "BundleConfigError", "UNet", "network_def")


@case("typed error")
def postprocessing_fails(ctx: Context) -> Case:
    bundle = ctx.bundle("post_fails")
    edit(bundle, lambda c: add_post(c, {"_target_": "SqueezeDimd", "keys": "pred", "dim": 5}))
    return refused(ctx.run("postprocessing_fails", bundle), "BundleConfigError", "postprocessing failed")


@case("typed error")
def preprocessing_fails(ctx: Context) -> Case:
    bundle = ctx.bundle("pre_fails")
    edit(bundle, lambda c: c["preprocessing"]["transforms"].append({"_target_": "SqueezeDimd", "keys": "image",
                                                                    "dim": 7}))  # fmt: skip
    return refused(ctx.run("preprocessing_fails", bundle), "BundleInputError", "preprocessing failed")


@case("typed error")
def gan_output_named_pred(ctx: Context) -> Case:
    bundle = ctx.bundle("gan_pred", GAN)
    edit(bundle, lambda m: m["network_data_format"]["outputs"].__setitem__(
        "pred", m["network_data_format"]["outputs"].pop("image")), name="metadata.json")  # fmt: skip
    return harmless(ctx.run("gan_output_named_pred", bundle))


@case("typed error")
def config_is_a_list(ctx: Context) -> Case:
    bundle = ctx.bundle("config_list")
    (bundle / "configs" / "inference.json").write_text("[1, 2, 3]")
    return refused(ctx.run("config_is_a_list", bundle), "BundleFileError", "mapping")


@case("typed error")
def metadata_is_a_list(ctx: Context) -> Case:
    bundle = ctx.bundle("metadata_list")
    (bundle / "configs" / "metadata.json").write_text("[1, 2, 3]")
    return refused(ctx.run("metadata_is_a_list", bundle), "BundleFileError", "metadata.json")


@case("typed error")
def config_not_utf8(ctx: Context) -> Case:
    bundle = ctx.bundle("not_utf8")
    (bundle / "configs" / "inference.json").write_bytes(b'{"a": "\xff\xfe"}')
    return refused(ctx.run("config_not_utf8", bundle), "BundleFileError", "inference.json")


@case("typed error")
def bad_target_layer(ctx: Context) -> Case:
    bundle = ctx.bundle("bad_layer")
    edit(bundle, lambda c: c.__setitem__("explain_target_layer", "backbone.no_such_stage"))
    return refused(ctx.run("bad_target_layer", bundle), "BundleConfigError", "explain_target_layer", "no such layer")


@case("typed error")
def target_layer_not_text(ctx: Context) -> Case:
    bundle = ctx.bundle("layer_not_text")
    edit(bundle, lambda c: c.__setitem__("explain_target_layer", ["backbone"]))
    return refused(ctx.run("target_layer_not_text", bundle), "BundleConfigError", "explain_target_layer")


@case("typed error")
def gan_voxel_size_text(ctx: Context) -> Case:
    bundle = ctx.bundle("gan_voxel", GAN)
    edit(bundle, lambda c: c.__setitem__("voxel_size_mm", "abc"))
    request = ctx.run("gan_voxel_size_text", bundle)
    request["request"].pop("inputPath")
    # the preprocessing reads voxel_size_mm as the crop's spacing: the allow-list's type check refuses it there
    return refused(request, "UntrustedCodeError", "spacing", "expected a number", "abc")


@case("typed error")
def garbage_weights(ctx: Context) -> Case:
    bundle = ctx.bundle("garbage_weights")
    (bundle / "models" / "model.pt").write_bytes(b"not a torch file at all" * 10)
    (bundle / "models" / "model.pt.sha256").unlink()
    return refused(ctx.run("garbage_weights", bundle), "WeightsError", "model.pt")


@case("typed error")
def zip_bad_crc(ctx: Context) -> Case:
    archive = ctx.root / "bad_crc.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(CLASSIFIER.joinpath("configs").iterdir()):
            zf.write(path, f"b/configs/{path.name}")
    data = bytearray(archive.read_bytes())
    offset = data.index(b'"name"')  # flip a byte inside metadata.json's stored data
    data[offset + 1] ^= 0x20
    archive.write_bytes(bytes(data))
    return refused({"action": "load", "bundle": str(archive)}, "BundleFileError", "CRC")


@case("typed error")
def zip_not_deflate(ctx: Context) -> Case:
    """A zip whose entry claims an unknown compression method."""
    archive = ctx.root / "bad_method.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("b/configs/metadata.json", "{}")
    data = bytearray(archive.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = data.index(signature)
        data[at + offset : at + offset + 2] = struct.pack("<H", 99)
    archive.write_bytes(bytes(data))
    return refused({"action": "load", "bundle": str(archive)}, "BundleFileError", "bad_method.zip")


# ---- symlinks -----------------------------------------------------------------------------------------


@case("symlink")
def weights_symlink_outside(ctx: Context) -> Case:
    bundle = ctx.bundle("weights_link")
    shutil.copy2(bundle / "models" / "model.pt", ctx.outside / "model.pt")
    (bundle / "models" / "model.pt").unlink()
    (bundle / "models" / "model.pt").symlink_to(ctx.outside / "model.pt")
    return refused(ctx.run("weights_symlink_outside", bundle), "BundleFileError", "symlink", "model.pt")


@case("symlink")
def configs_folder_symlink(ctx: Context) -> Case:
    bundle = ctx.bundle("configs_link")
    shutil.copytree(bundle / "configs", ctx.outside / "configs_copy")
    shutil.rmtree(bundle / "configs")
    (bundle / "configs").symlink_to(ctx.outside / "configs_copy", target_is_directory=True)
    return refused(ctx.run("configs_folder_symlink", bundle), "BundleFileError", "symlink")


@case("symlink")
def dangling_symlink(ctx: Context) -> Case:
    bundle = ctx.bundle("dangling_link")
    (bundle / "docs" / "notes.md").symlink_to(ctx.outside / "does_not_exist")
    return refused(ctx.run("dangling_symlink", bundle), "BundleFileError", "symlink")


@case("symlink")
def symlink_inside_bundle(ctx: Context) -> Case:
    """A link that stays inside the bundle is harmless."""
    bundle = ctx.bundle("inside_link")
    (bundle / "docs" / "LICENSE.link").symlink_to(bundle / "LICENSE")
    return harmless(ctx.run("symlink_inside_bundle", bundle))


@case("symlink")
def zip_symlink_entry(ctx: Context) -> Case:
    archive = ctx.root / "symlink.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("b/models/model.pt")
        info.external_attr = (0o120777 << 16) | 0x20
        zf.writestr(info, str(ctx.outside / "model.pt"))
    return refused({"action": "load", "bundle": str(archive)}, "BundleFileError", "symlink")


@case("symlink")
def zip_slip(ctx: Context) -> Case:
    archive = ctx.root / "slip.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../slipped.txt", "x")
    return refused({"action": "load", "bundle": str(archive)}, "BundleFileError", "outside the bundle")


@case("symlink")
def zip_absolute_name(ctx: Context) -> Case:
    archive = ctx.root / "absolute.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(str(ctx.outside / "absolute.txt"), "x")
    return refused({"action": "load", "bundle": str(archive)}, "BundleFileError", "outside the bundle")


# ---- harmless runs ------------------------------------------------------------------------------------


@case("harmless")
def shipped_classifier(ctx: Context) -> Case:
    return harmless(ctx.run("shipped_classifier", ctx.bundle("classifier")))


@case("harmless")
def cli_shipped_classifier(ctx: Context) -> Case:
    """The baseline of the ``cli`` cases: ``monai-ext infer`` runs the bundle in a fresh sandboxed process."""
    argv = ["infer", str(ctx.input_path), "--bundle", str(ctx.bundle("cli_classifier")), "--out",
            str(ctx.out("cli_shipped_classifier")), "--device", "cpu", "--no-montage"]  # fmt: skip
    return harmless({"action": "cli", "argv": argv})


@case("harmless")
def zipped_classifier(ctx: Context) -> Case:
    bundle = ctx.bundle("zipped_source")
    archive = ctx.root / "classifier.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(bundle.rglob("*")):
            if path.is_file():
                zf.write(path, Path("classifier") / path.relative_to(bundle))
    return harmless(ctx.run("zipped_classifier", archive))


@case("harmless")
def yaml_classifier(ctx: Context) -> Case:
    bundle = ctx.bundle("yaml_classifier")
    config = json.loads((bundle / "configs" / "inference.json").read_text())
    (bundle / "configs" / "inference.json").unlink()
    (bundle / "configs" / "inference.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return harmless(ctx.run("yaml_classifier", bundle))


@case("harmless")
def autoencoder(ctx: Context) -> Case:
    return harmless(ctx.run("autoencoder", ctx.bundle("autoencoder", AUTOENCODER)))


@case("harmless")
def zoo_style_expressions(ctx: Context) -> Case:
    """Zoo idioms: CommonKeys constants, the device choice, len/min/max/int/round, a dtype constant."""
    bundle = ctx.bundle("zoo_style")

    def plant(c: dict[str, Any]) -> None:
        c["image"] = "$monai.utils.CommonKeys.IMAGE"
        c["device"] = "$torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')"
        c["spatial_size"] = "$[int(round(max(63.6, min(@sides))))] * len(@sides)"
        c["sides"] = [64, 64, 64]
        for t in c["preprocessing"]["transforms"]:
            t["keys"] = "@image"
        c["preprocessing"]["transforms"].append({"_target_": "EnsureTyped", "keys": "@image", "device": "@device",
                                                 "dtype": "$torch.float32"})  # fmt: skip

    edit(bundle, plant)
    return harmless(ctx.run("zoo_style_expressions", bundle))


def build_all(ctx: Context) -> list[Case]:
    """Build every case's bundle under ``ctx.root``; returns the plan entries."""
    plans = []
    for name, (attack, builder) in CASES.items():
        plans.append(builder(ctx) | {"name": name, "attack": attack})
    return plans
