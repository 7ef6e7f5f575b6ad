"""Run MONAI Model Zoo bundles unchanged: feed their loading steps our volume, skip their writers, honour their
inferer, import their ``scripts/`` only when trusted, and refuse clearly what cannot run."""

from __future__ import annotations

from monai_ext.bundle.zoo.adapter import AdaptedBundle, adapt_bundle
from monai_ext.bundle.zoo.errors import BundleCodeNeedsTrustError, UnsupportedBundleError
from monai_ext.bundle.zoo.feed import feed_volume
from monai_ext.bundle.zoo.inferer import build_inferer
from monai_ext.bundle.zoo.plan import LoadingHead, ZooPlan, plan_config

__all__ = [
    "AdaptedBundle",
    "BundleCodeNeedsTrustError",
    "LoadingHead",
    "UnsupportedBundleError",
    "ZooPlan",
    "adapt_bundle",
    "build_inferer",
    "feed_volume",
    "plan_config",
]
