"""Fit a classifier's per-class logit offsets on the validation outputs (Platt scaling's intercept, slope 1).

Early-stopped training keeps a checkpoint taken at a high learning rate, whose ranking of cases (AUC) is good
but whose logits carry an epoch-dependent shift: at the 0.5 threshold one epoch calls almost nothing
hyperplasia and the next almost everything. Fitting one offset per class on the validation split by maximum
likelihood removes that shift without touching the ranking, so the arg-max is again the accuracy-optimal
decision and the probabilities are calibrated.
"""

from __future__ import annotations

import logging
import math

import torch
from ignite.engine import Engine, Events
from monai.handlers import from_engine
from torch import nn

__all__ = ["LogitOffsetCalibration", "fit_logit_offset"]

logger = logging.getLogger(__name__)

TINY = 1e-38  # float32 softmax underflows to 0 only beyond a logit gap of ~87: clamp before the log


def fit_logit_offset(log_probs: torch.Tensor, labels: torch.Tensor, *, bound: float = 5.0) -> torch.Tensor:
    """The offsets ``b`` that maximise the likelihood of ``softmax(log_probs + b)`` for ``labels``.

    Args:
        log_probs: ``(N, K)`` log-probabilities (or logits) of ``N`` cases.
        labels: ``(N,)`` class indices in ``[0, K)``.
        bound: each offset is clipped to ``[-bound, bound]``.

    Returns:
        ``(K,)`` offsets with ``b[0] = 0`` (only differences matter).

    Raises:
        ValueError: on mismatched shapes, labels outside ``[0, K)``, non-finite inputs, or a class missing from
            ``labels`` (its offset would run off to minus infinity).
    """
    if log_probs.ndim != 2 or labels.shape != log_probs.shape[:1]:
        raise ValueError(f"need log_probs (N, K) and labels (N,), got {tuple(log_probs.shape)}, {tuple(labels.shape)}")
    num_classes = log_probs.shape[1]
    labels = labels.long()
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got {labels.min().item()}..{labels.max().item()}")
    missing = sorted(set(range(num_classes)) - set(labels.tolist()))
    if missing:
        raise ValueError(f"classes {missing} have no case, so their offsets cannot be fitted")
    z = log_probs.detach().double()
    if not torch.isfinite(z).all():
        raise ValueError("log_probs contain NaN or infinity")
    free = torch.zeros(num_classes - 1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([free], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        offsets = torch.cat([free.new_zeros(1), free])
        loss = nn.functional.cross_entropy(z + offsets, labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    offsets = torch.cat([free.detach().new_zeros(1), free.detach()]).clamp(-bound, bound)
    return offsets.float()


class LogitOffsetCalibration:
    """Attached to a validator: after each validation, fit the logit offsets on its outputs and fold them into
    the network's ``prior_correction`` (which eval mode subtracts from the logits), so the weights saved next
    (:class:`~monai_ext.engines.BestModelSaver`) carry their own calibration.

    The validator's post-processed output must hold ``pred`` (softmax probabilities, ``(K,)`` per case) and
    ``label`` (one-hot ``(K,)`` or a class index). Training is unaffected: the offset only applies in eval mode.
    Each validation refits relative to the offsets already applied, so they accumulate correctly.

    Args:
        network: the classifier (or a DDP wrapper of it) with a ``prior_correction`` buffer of shape ``(K,)``.
        enabled: ``False`` attaches nothing.
        bound: largest absolute offset applied in one fit.
    """

    def __init__(self, *, network: nn.Module, enabled: bool = True, bound: float = 5.0) -> None:
        module = getattr(network, "module", network)  # unwrap DDP
        if not isinstance(getattr(module, "prior_correction", None), torch.Tensor):
            raise TypeError(f"{type(module).__name__} has no prior_correction buffer to hold the logit offsets")
        self.network = module
        self.enabled = enabled
        self.bound = float(bound)
        self.last_offsets: torch.Tensor | None = None
        self._preds: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []

    def attach(self, engine: Engine) -> None:
        """Collect on every validation iteration; fit when the validation completes."""
        if not self.enabled:
            return
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._fit)

    def _reset(self, engine: Engine) -> None:
        self._preds, self._labels = [], []

    def _collect(self, engine: Engine) -> None:
        preds, labels = from_engine(["pred", "label"])(engine.state.output)
        for pred, label in zip(preds, labels, strict=True):
            pred = torch.as_tensor(pred).detach().float().cpu().reshape(-1)
            label = torch.as_tensor(label).detach().cpu().reshape(-1)
            self._preds.append(pred)
            self._labels.append(label.argmax() if label.numel() == pred.numel() > 1 else label[0].long())

    def _fit(self, engine: Engine) -> None:
        if not self._preds:
            return
        log_probs = torch.stack(self._preds).clamp_min(TINY).log()
        labels = torch.stack(self._labels)
        try:
            offsets = fit_logit_offset(log_probs, labels, bound=self.bound)
        except ValueError as err:
            logger.warning("logit offsets not fitted on this validation: %s", err)
            return
        if not all(math.isfinite(v) for v in offsets.tolist()):
            return
        before = (log_probs.argmax(1) == labels).float().mean().item()
        after = ((log_probs + offsets).argmax(1) == labels).float().mean().item()
        prior = self.network.get_buffer("prior_correction")
        with torch.no_grad():
            prior.sub_(offsets.to(prior))
        self.last_offsets = offsets
        logger.info(
            "logit offsets %s fitted on %d validation cases: accuracy at arg-max %.4f -> %.4f",
            [round(v, 3) for v in offsets.tolist()],
            len(labels),
            before,
            after,
        )
