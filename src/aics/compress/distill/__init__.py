"""Knowledge distillation: Hinton KD, attention transfer, feature mimic with a learned adapter,
and a trainer that fine-tunes a (pruned) student from its teacher."""

from aics.compress.distill.losses import AttentionTransfer, FeatureMimic, KDLoss, attention_map
from aics.compress.distill.trainer import DISTILL_METHODS, DistillConfig, distill, feature_layers, fit

__all__ = ["AttentionTransfer", "DISTILL_METHODS", "DistillConfig", "FeatureMimic", "KDLoss", "attention_map",
           "distill", "feature_layers", "fit"]
