"""SelectLabel: one structure of a label map, by value or name, with typed errors for every wrong choice."""

from __future__ import annotations

import pytest
import torch
from monai.data import MetaTensor

from monai_ext.transforms import LabelSelectionError, SelectLabel, SelectLabeld


@pytest.fixture
def two_glands() -> MetaTensor:
    """A label map with 8 = right gland, 9 = left gland, names in the meta (as the label-map readers store them)."""
    data = torch.zeros(1, 12, 10, 8)
    data[0, 1:4, 2:5, 2:6] = 8
    data[0, 7:11, 3:8, 1:4] = 9
    return MetaTensor(
        data, affine=torch.diag(torch.tensor([0.7, 0.7, 2.5, 1.0])), meta={"label_names": {"R": 8, "L": 9}}
    )


@pytest.mark.parametrize(("label", "value"), [(8, 8), ("9", 9), ("L", 9), ("r", 8)])
def test_selects_by_value_or_name(two_glands: MetaTensor, label: int | str, value: int) -> None:
    mask = SelectLabel(label=label)(two_glands)
    assert isinstance(mask, MetaTensor) and mask.dtype == torch.float32
    torch.testing.assert_close(mask.as_tensor(), (two_glands.as_tensor() == value).float())
    torch.testing.assert_close(mask.affine, two_glands.affine)


def test_explicit_names_win_over_the_meta(two_glands: MetaTensor) -> None:
    mask = SelectLabel(label="L", label_names={"L": 8})(two_glands)
    assert int(mask.sum()) == int((two_glands == 8).sum())


def test_typed_errors_list_what_is_there(two_glands: MetaTensor) -> None:
    with pytest.raises(LabelSelectionError, match=r"value 5\) is not in the label map; it holds \[8, 9\]") as err:
        SelectLabel(label=5)(two_glands)
    assert err.value.present == [8, 9]
    with pytest.raises(LabelSelectionError, match=r"no label named 'spleen'.*R=8, L=9"):
        SelectLabel(label="spleen")(two_glands)
    with pytest.raises(LabelSelectionError, match=r"holds 2 labels \[8, 9\]: choose one"):
        SelectLabel()(two_glands)
    with pytest.raises(LabelSelectionError, match="no foreground"):
        SelectLabel()(torch.zeros(1, 4, 4, 4))
    with pytest.raises(LabelSelectionError, match="not a label map"):
        SelectLabel(label=1)(torch.rand(1, 4, 4, 4) + 0.01)
    with pytest.raises(LabelSelectionError, match=r"\(1, I, J, K\)"):
        SelectLabel()(torch.zeros(2, 4, 4, 4))
    ct = torch.arange(-1000, 1000, dtype=torch.float32).reshape(1, 10, 10, 20)  # integer HU, as a CT series
    with pytest.raises(LabelSelectionError, match=r"not a label map: it holds negative values \(down to -1000\)"):
        SelectLabel()(ct)
    with pytest.raises(
        LabelSelectionError, match=r"holds 49 labels \[1, 2, .*, 20, \.\.\. \(29 more\)\]: choose"
    ) as err:
        SelectLabel()(torch.arange(50, dtype=torch.float32).reshape(1, 5, 5, 2))
    assert len(str(err.value)) < 200 and err.value.present == list(range(1, 50))


@pytest.mark.parametrize("scale", [1.0, 100.0, 255.0])
def test_a_binary_mask_of_any_scale_becomes_0_1(scale: float) -> None:
    mask = torch.zeros(1, 6, 6, 6)
    mask[0, 2:4, 2:4, 2:4] = scale
    out = SelectLabel()(mask)
    assert sorted(torch.unique(out).tolist()) == [0.0, 1.0] and int(out.sum()) == 8


def test_a_soft_mask_is_scaled_by_its_maximum() -> None:
    soft = torch.linspace(-0.1, 0.8, 64).reshape(1, 4, 4, 4)
    out = SelectLabel()(soft)
    assert float(out.max()) == pytest.approx(1.0) and float(out.min()) == 0.0


def test_dictionary_twin(two_glands: MetaTensor) -> None:
    out = SelectLabeld(keys="image", label="R")({"image": two_glands, "other": 1})
    assert out["other"] == 1 and int(out["image"].sum()) == int((two_glands == 8).sum())
