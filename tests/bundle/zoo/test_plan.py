"""The zoo plan: loading heads, writers and re-encoding steps found in raw configs, nothing evaluated."""

from __future__ import annotations

from monai_ext.bundle.zoo import plan_config

LOAD = {"_target_": "LoadImaged", "keys": "@image_key", "image_only": False}
CHANNEL_FIRST = {"_target_": "EnsureChannelFirstd", "keys": "@image_key"}
SCALE = {"_target_": "ScaleIntensityd", "keys": "image"}


def _compose(*steps: object) -> dict:
    return {"_target_": "Compose", "transforms": list(steps)}


def test_loading_head_with_channel_first_is_removed() -> None:
    plan = plan_config({"preprocessing": _compose(LOAD, CHANNEL_FIRST, SCALE)})
    assert plan.loading is not None and plan.loading.steps == 2 and plan.loading.channel_first
    assert plan.loading.keys == "@image_key" and not plan.loading.image_only
    assert plan.overrides == {"preprocessing#transforms": [SCALE]}


def test_loader_alone_keeps_the_channel_layout_of_loadimaged() -> None:
    plan = plan_config({"preprocessing": _compose({"_target_": "monai.transforms.LoadImaged", "keys": "image"}, SCALE)})
    assert plan.loading is not None and plan.loading.steps == 1 and not plan.loading.channel_first
    assert plan.loading.image_only


def test_transform_list_behind_a_reference_is_edited_where_it_lives() -> None:
    config = {"transforms": [LOAD, CHANNEL_FIRST, SCALE], "preprocessing": _compose()}
    config["preprocessing"]["transforms"] = "$@transforms"
    plan = plan_config(config)
    assert plan.overrides == {"transforms": [SCALE]}


def test_writers_and_recoders_after_discretisation_are_skipped() -> None:
    post = _compose(
        {"_target_": "Activationsd", "keys": "pred", "sigmoid": True},
        {"_target_": "Invertd", "keys": "pred", "transform": "@preprocessing", "orig_keys": "image"},
        {"_target_": "AsDiscreted", "keys": "pred", "threshold": 0.5},
        {"_target_": "Lambdad", "keys": "pred", "func": "$lambda x: x"},
        {"_target_": "SaveImaged", "keys": "pred", "output_dir": "/anywhere"},
    )
    plan = plan_config({"postprocessing": post})
    kept = plan.overrides["postprocessing#transforms"]
    assert [step["_target_"] for step in kept] == ["Activationsd", "Invertd", "AsDiscreted"]
    assert plan.activation == "sigmoid" and plan.inverts
    assert len(plan.skipped) == 2 and "Lambdad" in plan.skipped[0] and "SaveImaged" in plan.skipped[1]


def test_a_lambda_before_discretisation_stays_for_the_safe_config_to_judge() -> None:
    post = _compose({"_target_": "Lambdad", "keys": "pred", "func": "$lambda x: x"}, {"_target_": "AsDiscreted"})
    plan = plan_config({"postprocessing": post})
    assert plan.overrides == {} and not plan.inverts and plan.activation is None


def test_own_bundles_get_an_empty_plan() -> None:
    plan = plan_config({"preprocessing": _compose(SCALE), "network_def": {"_target_": "DenseNet121"}})
    assert plan.loading is None and plan.overrides == {} and plan.code_targets == []


def test_bundle_code_is_found_in_the_runner_keys_only() -> None:
    config = {
        "network_def": {"_target_": "scripts.networks.unest.UNesT"},
        "trainer": {"_target_": "scripts.train.Trainer"},  # never resolved by the runner
        "preprocessing": _compose({"_target_": "scripts.crop.Crop"}),
    }
    assert plan_config(config).code_targets == ["scripts.crop.Crop", "scripts.networks.unest.UNesT"]
