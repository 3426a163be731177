"""The product library: what a merchant sells, and its state on Douyin."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db


class ProductKind(StrEnum):
    GROUPON = "groupon"  # 团购套餐 (Douyin product_type 1)
    VOUCHER = "voucher"  # 代金券 (product_type 11)
    COUNT_CARD = "count_card"  # 次卡: Douyin refuses card items, so it is sold as a service with N uses
    GOODS = "goods"  # delivered by courier


class ReviewStatus(StrEnum):
    DRAFT = "draft"  # never submitted
    REVIEWING = "reviewing"  # 审核中 (draft_status 10)
    APPROVED = "approved"  # 审核通过 (1 / 11)
    REJECTED = "rejected"  # 审核失败 (12), reason in review_reason


product_stores = Table(
    "product_stores",
    db.metadata,
    Column("product_id", ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
)


class Product(db.Model):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[str | None] = mapped_column(String(32))
    category_name: Mapped[str | None] = mapped_column(String(100))
    original_price_fen: Mapped[int]
    price_fen: Mapped[int]
    stock: Mapped[int] = mapped_column(default=0)
    uses: Mapped[int] = mapped_column(default=1)  # 次卡: how many visits one purchase buys
    sold_start_at: Mapped[datetime | None]
    sold_end_at: Mapped[datetime | None]
    valid_days: Mapped[int] = mapped_column(default=90)  # a voucher is usable this many days after payment
    usage_rules: Mapped[str] = mapped_column(Text, default="")
    # Our id on Douyin (goods `out_id`): saving again with it updates the same Douyin product.
    out_id: Mapped[str] = mapped_column(String(64), unique=True)
    douyin_product_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    review_status: Mapped[str] = mapped_column(String(16), default=ReviewStatus.DRAFT)
    review_reason: Mapped[str] = mapped_column(Text, default="")
    local_online: Mapped[bool] = mapped_column(default=False)
    douyin_online: Mapped[bool] = mapped_column(default=False)
    # Set by an anomaly rule (or the owner); a paused product is not sellable until resumed.
    paused_at: Mapped[datetime | None]
    paused_reason: Mapped[str] = mapped_column(Text, default="")
    delisted_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    stores = relationship("Store", secondary=product_stores, order_by="Store.id")

    __table_args__ = (Index("ix_products_org_id", "organization_id", "id"),)

    @property
    def buyable(self) -> bool:
        """Customers can buy it now: online here and on Douyin, review passed, not paused or delisted."""
        return (
            self.local_online
            and self.douyin_online
            and self.review_status == ReviewStatus.APPROVED
            and self.paused_at is None
            and self.delisted_at is None
        )
