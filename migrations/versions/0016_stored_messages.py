"""Sentences the portal stores (notices, reasons, journal and sync notes) kept as message ids with values

Each text the portal wrote in Chinese gains a JSON column holding the message id and its values
(portal/messages.py), rendered in the reader's language. Older rows whose text is one of the
portal's own sentences are converted; anything else (text a person or Douyin typed, sentences
no longer written) stays as it is and is shown as it was. Downgrade puts messages back into
Chinese text.

A counter review case's note keeps the owner's own words; the portal's sentence that followed
them moves to `review_cases.outcome_msg`.

Revision ID: 0016
Revises: 0015
"""
import re

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

# (table, literal column, message column)
COLUMNS = [
    ('notifications', 'title', 'title_msg'),
    ('notifications', 'body', 'body_msg'),
    ('ledger_transactions', 'memo', 'memo_msg'),
    ('ledger_withdrawals', 'failure_reason', 'failure_reason_msg'),
    ('ledger_refunds', 'customer_reason', 'customer_reason_msg'),
    ('ledger_refunds', 'decision_reason', 'decision_reason_msg'),
    ('products', 'paused_reason', 'paused_reason_msg'),
    ('redemption_rule_events', 'detail', 'detail_msg'),
    ('redemption_attempts', 'detail', 'detail_msg'),
    ('bookings', 'refused_reason', 'refused_reason_msg'),
    ('sync_changes', 'message', 'message_msg'),
]
# Literal columns of limited length: a message put back into words on downgrade is cut to fit.
LENGTHS = {('notifications', 'title'): 200, ('bookings', 'refused_reason'): 200}

_MONEY = r'(-?¥[\d,]+\.\d{2})'
_REFUND_REASONS = [
    '未找到该订单，请人工核对', '订单已退款', '订单已有券核销，仅未核销的订单可退款', '订单已发货，不支持退款',
    '符合退款规则，等待商家审核', '商家同意退款', '无需商家审核，抖音直接退款', '商家 72 小时内未处理，抖音自动同意',
]
_REFUND_PATTERNS = [
    (r'已超过 (\d+) 天自助退款期限', '已超过 %(days)s 天自助退款期限', ('days',)),
    (r'符合退款规则：未核销、(\d+) 天内、整单退款', '符合退款规则：未核销、%(days)s 天内、整单退款', ('days',)),
    (r'仅支持整单退款（申请 ' + _MONEY + r'，订单实付 ' + _MONEY + r'）', '仅支持整单退款（申请 %(asked)s，订单实付 %(paid)s）', ('asked', 'paid')),
]
_REFUND_STATES = ('已自动同意', '已自动拒绝', '待处理')
_PAUSED = [(r'今日 (\d+) 张券码核销失败，超过 (\d+) 张的阈值，已自动暂停',
            '今日 %(count)s 张券码核销失败，超过 %(limit)s 张的阈值，已自动暂停', ('count', 'limit'))]
_DAY = r'(\d{4}-\d{2}-\d{2})'
# The counter's details of an attempt (the rule events' column of the same name shares them).
_WHEN = r'((?:\d{2}-\d{2} )?\d{2}:\d{2})'
_ATTEMPT_DETAILS = ['全部门店可用', '券码校验位不对，可能输错了一位', '抖音有这张券，但订单还没有同步到本系统，请稍后重试',
                    '本门店还没有绑定抖音门店', '已在抖音核销', '店主审核通过']
_ATTEMPT_PATTERNS = [
    (r'有效期至 ' + _DAY, '有效期至 %(day)s', ('day',)),
    (r'可用门店：(.+)', '可用门店：%(names)s', ('names',)),
    (r'撤销 (\d{2}:\d{2}) 的核销', '撤销 %(when)s 的核销', ('when',)),
    (r'已于 ' + _WHEN + r' 由 (抖音) 核销（(.+)）', '已于 %(when)s 由 %(who)s 核销（%(store)s）', ('when', 'who*', 'store')),
    (r'已于 ' + _WHEN + r' 由 (.+) 核销（(.+)）', '已于 %(when)s 由 %(who)s 核销（%(store)s）', ('when', 'who', 'store')),
    (r'已于 ' + _WHEN + r' 由 (抖音) 核销', '已于 %(when)s 由 %(who)s 核销', ('when', 'who*')),
    (r'已于 ' + _WHEN + r' 由 (.+) 核销', '已于 %(when)s 由 %(who)s 核销', ('when', 'who')),
]
# A review case's note is the owner's words; the portal's sentence that followed them moves to
# its own column (review_cases.outcome_msg).
_REVIEW_SENTENCES = [
    '请顾客重新出示抖音券码核销', '这张券已经核销过了，不能重复核销。', '这张券已过期，不能核销。', '这张券不能在本门店使用。',
    '这张券已退款，不能核销。', '该商品因异常已暂停核销，请联系店主。', '该买家 24 小时内核销次数过多，本次核销已提交店主审核，请稍候。',
]

# The portal's own sentences, per message column: exact texts, then patterns whose groups are the values.
KNOWN = {
    'title_msg': (
        ['小程序审核已通过', '小程序审核未通过', '一笔核销待审核'],
        [
            (r'提现 ' + _MONEY + r' 已到账', '提现 %(amount)s 已到账', ('amount',)),
            (r'提现 ' + _MONEY + r' 失败，款项已退回可提现余额', '提现 %(amount)s 失败，款项已退回可提现余额', ('amount',)),
            (r'订单已退款 ' + _MONEY, '订单已退款 %(amount)s', ('amount',)),
            (r'退款申请 ' + _MONEY + r'：(' + '|'.join(_REFUND_STATES) + ')', '退款申请 %(amount)s：%(state)s', ('amount', 'state*')),
            (r'商品审核通过：(.+)', '商品审核通过：%(name)s', ('name',)),
            (r'商品审核驳回：(.+)', '商品审核驳回：%(name)s', ('name',)),
            (r'商品「(.+)」已被自动暂停', '商品「%(name)s」已被自动暂停', ('name',)),
        ],
    ),
    'body_msg': (['抖音已审核通过，上架后顾客即可购买。', *_REFUND_REASONS], _REFUND_PATTERNS),
    'memo_msg': ([], [(r'核销结算 (\d+) 笔订单', '核销结算 %(count)s 笔订单', ('count',))]),
    'failure_reason_msg': (['抖音未说明原因'], []),
    'customer_reason_msg': (['不想要了', '商家服务原因', '商品质量问题', '其他'], []),
    'decision_reason_msg': (_REFUND_REASONS, _REFUND_PATTERNS),
    'paused_reason_msg': ([], _PAUSED),
    'detail_msg': (_ATTEMPT_DETAILS, _PAUSED + _ATTEMPT_PATTERNS),
    'refused_reason_msg': ([], [
        (r'未找到抖音门店 (.+) 对应的门店', '未找到抖音门店 %(poi)s 对应的门店', ('poi',)),
        (r'(.+) 未开放 (.+) 时段的预约', '%(store)s 未开放 %(label)s 时段的预约', ('store', 'label')),
        (_DAY + r' (.+) 已约满（可接 (\d+) 单）', '%(day)s %(label)s 已约满（可接 %(n)s 单）', ('day', 'label', 'n')),
        (r'(.+) 没有名为“(.+)”的包间', '%(store)s 没有名为“%(room)s”的包间', ('store', 'room')),
        (r'包间 (.+) 最多坐 (\d+) 人', '包间 %(room)s 最多坐 %(n)s 人', ('room', 'n')),
        (r'包间 (.+) 在 ' + _DAY + r' (.+) 已被预订', '包间 %(room)s 在 %(day)s %(label)s 已被预订', ('room', 'day', 'label')),
    ]),
    'message_msg': ([
        '抖音上有此商品，但商品库中没有对应商品', '抖音上的版本又有变化，冲突仍待处理',
        '上次同步后本地有修改，抖音上的版本也变了：请选择保留哪个版本', '抖音在线商品列表中没有此商品，已标记为抖音未上架',
    ], []),
}


def _message(text, message_column):
    exact, patterns = KNOWN[message_column]
    if text in exact:
        return {'id': text, 'values': {}}
    for pattern, msgid, names in patterns:
        found = re.fullmatch(pattern, text)
        if found:
            values = {}
            for name, value in zip(names, found.groups()):
                # A name with a star is itself one of the portal's words.
                values[name.rstrip('*')] = {'id': value, 'values': {}} if name.endswith('*') else value
            return {'id': msgid, 'values': values}
    return None


def _render(stored):
    if isinstance(stored, dict) and 'id' in stored:
        values = {key: _render(value) for key, value in (stored.get('values') or {}).items()}
        return stored['id'] % values if values else stored['id']
    return '' if stored is None else str(stored)


def upgrade():
    for table, _literal, message in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(message, sa.JSON(), nullable=True))
    bind = op.get_bind()
    for table_name, literal, message in COLUMNS:
        table = sa.table(table_name, sa.column('id', sa.Integer), sa.column(literal, sa.Text), sa.column(message, sa.JSON))
        rows = bind.execute(sa.select(table.c.id, table.c[literal]).where(table.c[literal] != '')).all()
        for row_id, text in rows:
            stored = _message((text or '').strip(), message)
            if stored is not None:
                bind.execute(table.update().where(table.c.id == row_id).values({message: stored, literal: ''}))
    with op.batch_alter_table('review_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome_msg', sa.JSON(), nullable=True))
    cases = sa.table('review_cases', sa.column('id', sa.Integer), sa.column('note', sa.Text), sa.column('outcome_msg', sa.JSON))
    for row_id, note in bind.execute(sa.select(cases.c.id, cases.c.note).where(cases.c.note != '')).all():
        sentence = next((s for s in _REVIEW_SENTENCES if note.endswith(s)), None)
        if sentence is not None:
            bind.execute(cases.update().where(cases.c.id == row_id).values(
                note=note[:-len(sentence)].strip(), outcome_msg={'id': sentence, 'values': {}}))


def downgrade():
    bind = op.get_bind()
    cases = sa.table('review_cases', sa.column('id', sa.Integer), sa.column('note', sa.Text), sa.column('outcome_msg', sa.JSON))
    for row_id, note, stored in bind.execute(sa.select(cases.c.id, cases.c.note, cases.c.outcome_msg).where(cases.c.outcome_msg.is_not(None))).all():
        if stored is not None:
            bind.execute(cases.update().where(cases.c.id == row_id).values(note=((note or '') + ' ' + _render(stored)).strip()))
    if bind.dialect.name == 'sqlite':
        op.drop_column('review_cases', 'outcome_msg')
    else:
        with op.batch_alter_table('review_cases', schema=None) as batch_op:
            batch_op.drop_column('outcome_msg')
    for table_name, literal, message in COLUMNS:
        table = sa.table(table_name, sa.column('id', sa.Integer), sa.column(literal, sa.Text), sa.column(message, sa.JSON))
        rows = bind.execute(sa.select(table.c.id, table.c[message]).where(table.c[message].is_not(None))).all()
        for row_id, stored in rows:
            if stored is None:  # a JSON null
                continue
            text = _render(stored)
            if (table_name, literal) in LENGTHS:
                text = text[:LENGTHS[(table_name, literal)]]
            bind.execute(table.update().where(table.c.id == row_id).values({literal: text}))
    for table, _literal, message in reversed(COLUMNS):
        if bind.dialect.name == 'sqlite':
            # In place (SQLite 3.35+): rebuilding the table would trip the foreign keys of the rows
            # that refer to it (a review case to its attempt).
            op.drop_column(table, message)
            continue
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(message)
