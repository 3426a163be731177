"""The product library: what a merchant sells, and its state on Douyin."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, String, Table, Text, and_, text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.messages import MessageText


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
    # A store's products: the store manager's library and the store filter start from here.
    Index("ix_product_stores_store", "store_id", "product_id"),
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
    original_price_fen: Mapped[int] = mapped_column(BigInteger)
    price_fen: Mapped[int] = mapped_column(BigInteger)
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
    # Set by an anomaly rule (or the owner); a paused product is not sellable until resumed. The
    # reason reads in the reader's language (portal/messages.py).
    paused_at: Mapped[datetime | None]
    paused_reason_literal: Mapped[str] = mapped_column("paused_reason", Text, default="")
    paused_reason_msg: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    paused_reason = MessageText("paused_reason_literal", "paused_reason_msg")
    delisted_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Sync bookkeeping (issue 5). `douyin_version` is Douyin's content as last seen by a sync,
    # `submitted_version` what we last sent for review: with the local content they make a
    # three-way comparison, so a local edit is never overwritten by a Douyin change unseen.
    images: Mapped[list] = mapped_column(JSON, default=list)  # image URLs, in display order
    douyin_sku_id: Mapped[str | None] = mapped_column(String(32))
    douyin_version: Mapped[dict | None] = mapped_column(JSON)
    submitted_version: Mapped[dict | None] = mapped_column(JSON)
    submitted_at: Mapped[datetime | None]
    reviewed_at: Mapped[datetime | None]
    synced_at: Mapped[datetime | None]
    last_seen_run_id: Mapped[int | None]
    edited_at: Mapped[datetime | None]

    stores = relationship("Store", secondary=product_stores, order_by="Store.id")

    __table_args__ = (
        Index("ix_products_org_id", "organization_id", "id"),
        Index("ix_products_org_review", "organization_id", "review_status", "id"),
        # The library as listed (delisted products hidden): its pages and its count, from the index alone.
        Index("ix_products_org_listed", "organization_id", "id", sqlite_where=text("delisted_at IS NULL"),
              postgresql_where=text("delisted_at IS NULL")),
        # Name search (LIKE '%q%') on PostgreSQL's trigram index; SQLite gets a plain index it
        # does not use for that search (see README, "Scale").
        Index("ix_products_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
    )

    @hybrid_property
    def buyable(self) -> bool:
        """Customers can buy it now: online here and on Douyin, review passed, not paused or delisted."""
        return (
            self.local_online
            and self.douyin_online
            and self.review_status == ReviewStatus.APPROVED
            and self.paused_at is None
            and self.delisted_at is None
        )

    @buyable.inplace.expression
    @classmethod
    def _buyable_expression(cls):
        """The same rule in SQL (the library's filter and list)."""
        return and_(
            cls.local_online.is_(True),
            cls.douyin_online.is_(True),
            cls.review_status == ReviewStatus.APPROVED,
            cls.paused_at.is_(None),
            cls.delisted_at.is_(None),
        )


class SyncStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # stopped or skipped some products; what it did is kept
    FAILED = "failed"  # could not do anything

    @property
    def active(self) -> bool:
        return self in (SyncStatus.QUEUED, SyncStatus.RUNNING)


class SyncRun(db.Model):
    """One 刷新列表 run. Progress lives here (the page polls it), not in the RQ job."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    # Equal to organization_id while queued or running, NULL after: one active run per merchant.
    active_org_id: Mapped[int | None] = mapped_column(unique=True)
    status: Mapped[str] = mapped_column(String(16), default=SyncStatus.QUEUED)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    phase: Mapped[str] = mapped_column(String(16), default="online")
    # Where to resume after a dead worker: Douyin's cursor (online phase) or our last product id (review phase).
    cursor: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    pages: Mapped[int] = mapped_column(default=0)
    seen: Mapped[int] = mapped_column(default=0)
    changed: Mapped[int] = mapped_column(default=0)
    conflicts: Mapped[int] = mapped_column(default=0)
    errors: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    requested_by = relationship("User")

    __table_args__ = (Index("ix_sync_runs_org_id", "organization_id", "id"),)

    @property
    def status_enum(self) -> SyncStatus:
        return SyncStatus(self.status)

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or self.heartbeat_at or self.started_at
        return (end - self.started_at).total_seconds()


class SyncChange(db.Model):
    """What one run changed (or could not change) about one product."""

    __tablename__ = "sync_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    douyin_product_id: Mapped[str] = mapped_column(String(32), default="")
    name: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(16))  # updated | conflict | missing | unmatched | error
    fields: Mapped[dict] = mapped_column(JSON, default=dict)  # field -> [before, after]
    # Our note in the reader's language (portal/messages.py); an error's own text as it is.
    message_literal: Mapped[str] = mapped_column("message", Text, default="")
    message_msg: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))

    __table_args__ = (Index("ix_sync_changes_run_id", "run_id", "id"),)

    message = MessageText("message_literal", "message_msg")


class ProductConflict(db.Model):
    """A Douyin change that met a local edit made after the last sync: both kept until the merchant chooses."""

    __tablename__ = "product_conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id", ondelete="SET NULL"))
    local_version: Mapped[dict] = mapped_column(JSON)
    douyin_version: Mapped[dict] = mapped_column(JSON)
    detected_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str] = mapped_column(String(16), default="")  # local | douyin
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    product = relationship("Product")

    __table_args__ = (Index("ix_product_conflicts_product_resolved", "product_id", "resolved_at"),)
