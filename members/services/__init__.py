"""Writes of the members app, one module per area. Other apps import from here or from the module itself.

Points and tiers (members.services.points, members.services.tiers) are re-exported below; other areas add
their own re-exports.
"""

from members.services.points import (
    PointsInsufficient,
    PointsReferenceUsed,
    PurchaseNotRecorded,
    point_value,
    points_adjust,
    points_calculate,
    points_earn,
    points_expire,
    points_expiry,
    points_for_amount,
    points_mature,
    points_redeem,
    points_redeem_reverse,
    points_reverse,
    points_value,
    purchase_record,
    purchase_return_record,
    shortfall_policy,
)
from members.services.tiers import (
    spend_12m,
    spend_record,
    tier_benefits,
    tier_for_spend,
    tier_upgrade_check,
    tiers_recompute,
)

__all__ = [
    "PointsInsufficient",
    "PointsReferenceUsed",
    "PurchaseNotRecorded",
    "point_value",
    "points_adjust",
    "points_calculate",
    "points_earn",
    "points_expire",
    "points_expiry",
    "points_for_amount",
    "points_mature",
    "points_redeem",
    "points_redeem_reverse",
    "points_reverse",
    "points_value",
    "purchase_record",
    "purchase_return_record",
    "shortfall_policy",
    "spend_12m",
    "spend_record",
    "tier_benefits",
    "tier_for_spend",
    "tier_upgrade_check",
    "tiers_recompute",
]
