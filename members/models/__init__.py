from members.models.coupons import Coupon, CouponKind, CouponScope, CouponSource, CouponStatus, CouponTemplate
from members.models.members import (
    CONSENT_CHANNELS,
    ConsentChannel,
    ConsentRecord,
    Member,
    MemberQuerySet,
    StaffAttribution,
    Tier,
)
from members.models.otp import OtpCode
from members.models.points import PointsEntry, PointsKind, PointsStatus, SpendEntry
from members.models.segments import Segment

__all__ = [
    "CONSENT_CHANNELS",
    "ConsentChannel",
    "ConsentRecord",
    "Coupon",
    "CouponKind",
    "CouponScope",
    "CouponSource",
    "CouponStatus",
    "CouponTemplate",
    "Member",
    "MemberQuerySet",
    "OtpCode",
    "PointsEntry",
    "PointsKind",
    "PointsStatus",
    "Segment",
    "SpendEntry",
    "StaffAttribution",
    "Tier",
]
