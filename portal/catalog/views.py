"""商品库: the product list, product pages, publishing to Douyin, and 刷新列表 runs."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, abort, current_app, flash, request, send_file, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import clock, htmx, money, outbox, params
from portal.accounts import tenancy
from portal.accounts.models import Store
from portal.catalog import images, rows, service, sync
from portal.catalog.forms import ActionForm, ConflictForm, OnlineForm, ProductForm
from portal.catalog.models import Product, ProductKind, ReviewStatus, SyncChange, SyncRun
from portal.extensions import db
from portal.forms import options
from portal.i18n import gettext as _
from portal.i18n import once_per_language

bp = Blueprint("catalog", __name__, url_prefix="/catalog")

PAGE_SIZE = 50
ONLINE_FILTERS = ("buyable", "not_buyable", "local_online", "douyin_online", "offline", "paused")


def _products():
    return service.visible(tenancy.query(Product), tenancy.current().store_ids)


def _product_or_404(product_id: int) -> Product:
    product = db.session.scalar(_products().where(Product.id == product_id).options(selectinload(Product.stores)))
    if product is None:
        abort(404)
    return product


def _editable(product: Product) -> bool:
    """A store manager changes only products valid at none but their own stores."""
    store_ids = tenancy.current().store_ids
    return store_ids is None or all(s.id in store_ids for s in product.stores)


def _editable_or_403(product: Product) -> None:
    if not _editable(product):
        abort(403)


def _filters() -> service.Filters:
    args = request.args
    kind = args.get("kind", "")
    review = args.get("review", "")
    online = args.get("online", "")
    store_id = params.int_arg("store")
    return service.Filters(
        q=args.get("q", "").strip()[:100],
        kind=kind if kind in ProductKind.__members__.values() else "",
        store_id=store_id if store_id and tenancy.current().can_see_store(store_id) else None,
        review=review if review in ReviewStatus.__members__.values() else "",
        online=online if online in ONLINE_FILTERS else "",
        conflict=args.get("conflict") == "1",
        delisted=args.get("delisted") == "1",
    )


def _labels() -> dict:
    """The list's labels in the user's language (a lazy string re-translates at every use)."""
    return once_per_language("labels", lambda: {
        name: {k: str(v) for k, v in labels.items()}
        for name, labels in (("kinds", service.KIND_LABELS), ("reviews", service.REVIEW_LABELS), ("stages", service.STAGE_LABELS),
                             ("fields", service.FIELD_LABELS))
    })


def _rows_html(products, *, conflicted: set[int], store_names: dict, pending: dict) -> Markup:
    labels = once_per_language("rows", lambda: rows.RowLabels.build(service.KIND_LABELS, service.STAGE_LABELS))
    locked = service.shared_beyond([p.id for p in products], tenancy.current().store_ids)
    return rows.product_rows(
        products, labels, show_url=url_for("catalog.index"), csrf_token=generate_csrf(),
        conflicted=conflicted, store_names=store_names, pending=pending, locked=locked,
    )


@bp.get("/")
@tenancy.require(*tenancy.MANAGERS)
def index():
    tenant = tenancy.current()
    filters = _filters()
    org_id = tenant.organization.id
    listing = service.list_products(org_id, tenant.store_ids, filters, before=params.int_arg("before"), after=params.int_arg("after"), limit=PAGE_SIZE)
    ids = [p.id for p in listing.products]
    rows_html = _rows_html(listing.products, conflicted={p.id for p in listing.products if p.conflicted},
                           store_names=service.store_names(ids), pending=service.undelivered(org_id, ids))
    args = {k: v for k, v in request.args.items() if k not in ("before", "after") and v}
    return htmx.render(
        "catalog/index.html",
        "catalog/_product_rows.html",
        listing=listing,
        rows_html=rows_html,
        filters=filters,
        args=args,
        stores=tenancy.store_names(),
        run=sync.latest_run(org_id) if tenant.is_admin else None,
        **_labels(),
    )


# --- create and edit ---------------------------------------------------------------------------


def _product_form(product: Product | None = None) -> tuple[ProductForm, str | None]:
    data = None
    if product is not None and request.method == "GET":
        data = {
            "kind": product.kind,
            "name": product.name,
            "description": product.description,
            "images": "\n".join(product.images or []),
            "category_id": product.category_id or "",
            "original_price": money.fen_to_yuan_text(product.original_price_fen),
            "price": money.fen_to_yuan_text(product.price_fen),
            "stock": product.stock,
            "uses": product.uses,
            "sold_start_at": clock.to_local(product.sold_start_at).replace(tzinfo=None) if product.sold_start_at else None,
            "sold_end_at": clock.to_local(product.sold_end_at).replace(tzinfo=None) if product.sold_end_at else None,
            "valid_days": product.valid_days,
            "usage_rules": product.usage_rules,
            "store_ids": [s.id for s in product.stores],
            "local_online": product.local_online,
        }
    stores = tenancy.stores()
    if product is None and request.method == "GET":
        data = {"store_ids": [s.id for s in stores]}  # a new product is valid at every store the user has, until unticked
    form = ProductForm(data=data)
    form.store_ids.choices = options(
        (s.id, s.name if s.douyin_poi_id else _("%(name)s（未绑定抖音门店）", name=s.name)) for s in stores
    )
    category_error = None
    try:
        categories = service.list_categories(tenancy.current().organization.id)
    except service.CatalogError as error:
        categories, category_error = [], str(error)
    current = (form.category_id.data or (product.category_id if product else None)) or ""
    if current and current not in {c for c, _name in categories}:
        categories = [(current, (product.category_name if product and product.category_name else current))] + categories
    form.category_id.choices = options([("", _("（请选择类目）"))] + categories)
    return form, category_error


def _product_data(form: ProductForm) -> service.ProductData:
    for store_id in form.store_ids.data or []:
        tenancy.get_or_404(Store, store_id)  # the guard, not the choice list, decides what is ours
    start, end = form.sold_window()
    names = {choice.value: choice.label for choice in form.category_id.choices}
    return service.ProductData(
        kind=form.kind.data,
        name=form.name.data or "",
        description=form.description.data or "",
        images=[line.strip() for line in (form.images.data or "").splitlines() if line.strip()],
        category_id=form.category_id.data or None,
        category_name=str(names.get(form.category_id.data)) if form.category_id.data else None,
        original_price_fen=form.original_price.fen,
        price_fen=form.price.fen,
        stock=form.stock.data or 0,
        uses=(form.uses.data or 1) if form.kind.data == ProductKind.COUNT_CARD else 1,
        sold_start_at=start,
        sold_end_at=end,
        valid_days=form.valid_days.data,
        usage_rules=form.usage_rules.data or "",
        store_ids=list(form.store_ids.data or []),
        local_online=bool(form.local_online.data),
    )


def _form_page(form, category_error, product=None, status=200):
    return htmx.render(
        "catalog/form.html", "catalog/_product_form.html", form=form, category_error=category_error, product=product, status=status
    )


def _uploaded_images(form) -> list[str] | None:
    """Check and store the pictures chosen in the form; their addresses, or None (with the
    field's error) when one is refused. Nothing is stored unless all are accepted."""
    files = [f for f in (form.image_files.data or []) if getattr(f, "filename", "")]
    kept = [line for line in (form.images.data or "").splitlines() if line.strip()]
    if len(files) + len(kept) > images.MAX_FILES:
        form.image_files.errors.append(_("最多 %(n)s 张图片", n=images.MAX_FILES))
        return None
    checked = []
    for upload in files:
        data = upload.read(images.MAX_BYTES + 1)
        try:
            checked.append((data, images.inspect(data, upload.filename)))
        except images.ImageInvalid as error:
            form.image_files.errors.append(str(error))
            return None
    org_id = tenancy.current().organization.id
    return [images.store(current_app.instance_path, org_id, data, check) for data, check in checked]


def _save(form, category_error, product=None):
    if not form.validate_on_submit():
        return _form_page(form, category_error, product, status=422)
    uploaded = _uploaded_images(form)
    if uploaded is None:
        return _form_page(form, category_error, product, status=422)
    try:
        data = _product_data(form)
        data = replace(data, images=data.images + uploaded)
        if product is None:
            product = service.create_product(tenancy.current().organization.id, data, actor=current_user)
        else:
            service.update_product(product, data, actor=current_user)
    except service.CatalogError as error:
        db.session.rollback()
        getattr(form, error.field or "name", form.name).errors.append(str(error))
        return _form_page(form, category_error, product, status=422)
    db.session.commit()
    if product.submitted_version is None:
        flash(_("商品已保存为草稿。提交审核并通过后，顾客才能在抖音上看到它。"), "success")
    else:
        flash(_("修改已保存。重新提交审核并通过前，抖音上仍显示原来的内容。"), "success")
    return htmx.redirect(url_for("catalog.show", product_id=product.id))


@bp.route("/new", methods=["GET", "POST"])
@tenancy.require(*tenancy.MANAGERS)
def new():
    form, category_error = _product_form()
    if request.method == "POST":
        return _save(form, category_error)
    return _form_page(form, category_error)


@bp.route("/<int:product_id>/edit", methods=["GET", "POST"])
@tenancy.require(*tenancy.MANAGERS)
def edit(product_id: int):
    product = _product_or_404(product_id)
    _editable_or_403(product)
    form, category_error = _product_form(product)
    if request.method == "POST":
        return _save(form, category_error, product)
    return _form_page(form, category_error, product)


@bp.get("/images/<int:organization_id>/<name>")
def image(organization_id: int, name: str):
    """An uploaded product picture, public: Douyin fetches it by this address (catalog.images)."""
    path = images.path_of(current_app.instance_path, organization_id, name)
    if path is None:
        abort(404)
    return send_file(path, mimetype=images.FORMATS["PNG" if name.endswith(".png") else "JPEG"][1], max_age=365 * 24 * 3600)


# --- one product -------------------------------------------------------------------------------


def _show(product: Product, *, status: int = 200, error: str | None = None, not_connected: bool = False, conflict_form=None):
    conflict = service.find_open_conflict(product)
    messages = service.deliveries(product.organization_id, product.id)
    return htmx.render(
        "catalog/show.html",
        status=status,
        product=product,
        conflict=conflict,
        conflict_form=conflict_form or ConflictForm(),
        messages=messages,
        error=error,
        not_connected=not_connected,
        editable=_editable(product),
        reasons=service.not_buyable_reasons(product),
        stage=service.review_stage(product),
        unsubmitted=product.submitted_version is not None and service.content_of(product) != product.submitted_version,
        **_labels(),
    )


@bp.get("/<int:product_id>")
@tenancy.require(*tenancy.MANAGERS)
def show(product_id: int):
    return _show(_product_or_404(product_id))


def _act(product_id: int, action, *, editable: bool = True, said=None):
    """Run one product action behind a CSRF-checked POST; a broken rule is a 422 with its message.
    `said` is what the merchant is told after it worked, when the page is reloaded."""
    product = _product_or_404(product_id)
    if editable:
        _editable_or_403(product)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        result = action(product)
    except service.CatalogError as error:
        db.session.rollback()
        return _show(_product_or_404(product_id), status=422, error=str(error),
                     not_connected=isinstance(error, service.NotConnectedError))
    db.session.commit()
    if htmx.is_partial() and htmx.target() == f"catalog-product-{product.id}":
        row = _rows_html([product], conflicted=service.conflicted_ids([product.id]), store_names=service.store_names([product.id]), pending={})
        return htmx.render("catalog/show.html", "catalog/_product_row.html", product=product, rows_html=row, **_labels())
    if said:
        flash(said, "success")
    return htmx.redirect(url_for("catalog.show", product_id=(result or product).id))


@bp.post("/<int:product_id>/submit")
@tenancy.require(*tenancy.MANAGERS)
def submit(product_id: int):
    return _act(product_id, lambda p: service.submit_product(p, actor=current_user),
                said=_("已提交抖音审核。审核结果出来后会通知您，通过后即可上架。"))


@bp.post("/<int:product_id>/online")
@tenancy.require(*tenancy.MANAGERS)
def online(product_id: int):
    form = OnlineForm()
    want = form.online.data == "1"
    said = _("已上架：正在通知抖音，几分钟内顾客即可购买。") if want else _("已下架：正在通知抖音，顾客将不能再购买；已售出的券仍可核销。")
    return _act(product_id, lambda p: service.set_online(p, want, actor=current_user), said=said)


@bp.post("/<int:product_id>/copy")
@tenancy.require(*tenancy.MANAGERS)
def copy(product_id: int):
    return _act(product_id, lambda p: service.copy_product(p, actor=current_user),
                said=_("已复制为新的草稿，修改后提交审核即可。"))


@bp.post("/<int:product_id>/delist")
@tenancy.require(*tenancy.MANAGERS)
def delist(product_id: int):
    return _act(product_id, lambda p: service.delist_product(p, actor=current_user),
                said=_("商品已停售：正在通知抖音下架，订单和记录都会保留。"))


@bp.post("/<int:product_id>/resume")
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def resume(product_id: int):
    return _act(product_id, lambda p: service.resume_product(p, current_user), editable=False,
                said=_("已恢复销售：本系统中为上架状态的商品会在抖音重新上架。"))


@bp.post("/<int:product_id>/conflict")
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def resolve(product_id: int):
    product = _product_or_404(product_id)
    conflict = service.find_open_conflict(product)
    if conflict is None:
        abort(404)
    form = ConflictForm()
    if not form.validate_on_submit():
        return _show(product, status=422, conflict_form=form)
    try:
        service.resolve_conflict(conflict, form.choice.data, actor=current_user)
    except service.CatalogError as error:
        db.session.rollback()
        return _show(_product_or_404(product_id), status=422, error=str(error))
    db.session.commit()
    return htmx.redirect(url_for("catalog.show", product_id=product_id))


@bp.post("/<int:product_id>/deliveries/<int:message_id>/retry")
@tenancy.require(*tenancy.MANAGERS)
def retry_delivery(product_id: int, message_id: int):
    def action(product):
        message = tenancy.get_or_404(outbox.OutboxMessage, message_id)
        if message.payload.get("product_id") != product.id or message.status != outbox.OutboxStatus.FAILED:
            abort(404)
        outbox.retry(message)

    return _act(product_id, action)


# --- 刷新列表 --------------------------------------------------------------------------------


def _run_or_404(run_id: int) -> SyncRun:
    return tenancy.get_or_404(SyncRun, run_id)


@bp.post("/sync")
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def start_sync():
    if not ActionForm().validate_on_submit():
        abort(400)
    run, _started = sync.start_sync_run(tenancy.current().organization.id, actor=current_user)
    db.session.commit()
    if htmx.is_partial():
        return htmx.render("catalog/sync_run.html", "catalog/_sync_status.html", run=run)
    return htmx.redirect(url_for("catalog.sync_run", run_id=run.id))


@bp.get("/sync/<int:run_id>")
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def sync_run(run_id: int):
    run = _run_or_404(run_id)
    if htmx.is_partial():
        done = not run.status_enum.active
        return htmx.render("catalog/sync_run.html", "catalog/_sync_status.html", run=run, trigger="catalog-synced" if done else None)
    changes = list(db.session.scalars(select(SyncChange).where(SyncChange.run_id == run.id).order_by(SyncChange.id).limit(1000)))
    return htmx.render("catalog/sync_run.html", run=run, changes=changes, **_labels())


@bp.get("/sync/")
@tenancy.require(*tenancy.MERCHANT_ADMINS)
def sync_runs():
    runs = list(db.session.scalars(tenancy.query(SyncRun).order_by(SyncRun.id.desc()).limit(100)))
    return htmx.render("catalog/sync_runs.html", runs=runs)





@bp.app_template_filter("catalog_ts")
def _catalog_ts(value) -> str:
    """A Douyin unix timestamp (seconds) in Shanghai time."""
    from datetime import UTC, datetime

    return clock.to_local(datetime.fromtimestamp(int(value), UTC)).strftime("%Y-%m-%d %H:%M") if value else "—"
